//! Small enumerations describing a registrant or dependent: attribute (属性),
//! relationship (続柄), dependent kind and sex.
//!
//! Limits: labels and codes only; no validation of names, addresses or
//! combinations (e.g. whether a spouse may be a 第3号被保険者).

/// Folds label input for lenient matching: trims, folds full-width digits and
/// maps ASCII parentheses and commas to the full-width forms used in labels.
fn normalise_label(input: &str) -> String {
    input
        .trim()
        .trim_matches('\u{3000}')
        .chars()
        .map(|c| match c {
            '０'..='９' => super::text::fold_fullwidth(c),
            '(' => '（',
            ')' => '）',
            ',' | '，' => '、',
            _ => c,
        })
        .filter(|c| !super::text::is_blank(*c))
        .collect()
}

/// Defines a label/code enum with `ALL`, `label`, `code`, `from_code` and
/// `from_label`.
macro_rules! labelled_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($variant:ident => $label:literal, $code:literal;)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];

            /// Japanese label shown to users.
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            /// Stable storage code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// Inverse of `code`.
            pub fn from_code(code: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.code() == code)
            }
        }
    };
}

labelled_enum! {
    /// Attribute (属性) of a registrant.
    Attribute {
        Employee1 => "従業員1（社員、役員）", "employee1";
        Employee2 => "従業員2（パート、アルバイト）", "employee2";
        RemunerationPayee => "報酬等の支払先", "remuneration_payee";
        RealEstatePayee => "不動産等の支払先", "real_estate_payee";
        Shareholder => "株主等", "shareholder";
        Other => "その他", "other";
    }
}

impl Attribute {
    /// Short label for narrow columns, e.g. `従業員1`.
    pub fn short_label(self) -> &'static str {
        match self {
            Attribute::Employee1 => "従業員1",
            Attribute::Employee2 => "従業員2",
            Attribute::RemunerationPayee => "報酬",
            Attribute::RealEstatePayee => "不動産",
            Attribute::Shareholder => "株主",
            Attribute::Other => "その他",
        }
    }

    /// Accepts the full or the short label (e.g. from a CSV import). Blanks,
    /// full-width digits and half-width parentheses/commas are tolerated.
    pub fn from_label(input: &str) -> Option<Attribute> {
        let wanted = normalise_label(input);
        Attribute::ALL
            .into_iter()
            .find(|a| a.label() == wanted || a.short_label() == wanted)
    }
}

labelled_enum! {
    /// Relationship (続柄) of a dependent to the registrant.
    Relationship {
        Spouse => "配偶者", "spouse";
        Child => "子", "child";
        Father => "父", "father";
        Mother => "母", "mother";
        Other => "その他", "other";
    }
}

impl Relationship {
    /// Accepts the label (blanks tolerated).
    pub fn from_label(input: &str) -> Option<Relationship> {
        let wanted = normalise_label(input);
        Relationship::ALL.into_iter().find(|r| r.label() == wanted)
    }
}

labelled_enum! {
    /// Kind of dependent.
    DependentKind {
        Dependent => "扶養者", "dependent";
        NationalPensionCategory3 => "国民年金の第3号被保険者", "national_pension_category3";
    }
}

impl DependentKind {
    /// Whether identity-document images must be collected for this kind
    /// (true for 国民年金の第3号被保険者).
    pub fn requires_images(self) -> bool {
        matches!(self, DependentKind::NationalPensionCategory3)
    }

    /// Accepts the label (blanks and full-width digits tolerated).
    pub fn from_label(input: &str) -> Option<DependentKind> {
        let wanted = normalise_label(input);
        DependentKind::ALL.into_iter().find(|k| k.label() == wanted)
    }
}

labelled_enum! {
    /// Sex (性別).
    Sex {
        Male => "男性", "male";
        Female => "女性", "female";
    }
}

impl Sex {
    /// Accepts the label or the one-character form (男 / 女).
    pub fn from_label(input: &str) -> Option<Sex> {
        match normalise_label(input).as_str() {
            "男性" | "男" => Some(Sex::Male),
            "女性" | "女" => Some(Sex::Female),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_labels_match_table_when_each_variant() {
        let cases = [
            (Attribute::Employee1, "従業員1（社員、役員）", "従業員1"),
            (
                Attribute::Employee2,
                "従業員2（パート、アルバイト）",
                "従業員2",
            ),
            (Attribute::RemunerationPayee, "報酬等の支払先", "報酬"),
            (Attribute::RealEstatePayee, "不動産等の支払先", "不動産"),
            (Attribute::Shareholder, "株主等", "株主"),
            (Attribute::Other, "その他", "その他"),
        ];
        assert_eq!(cases.len(), Attribute::ALL.len());
        for (attribute, label, short) in cases {
            assert_eq!(attribute.label(), label);
            assert_eq!(attribute.short_label(), short);
            assert_eq!(Attribute::from_label(label), Some(attribute));
            assert_eq!(Attribute::from_label(short), Some(attribute));
            assert_eq!(Attribute::from_code(attribute.code()), Some(attribute));
        }
    }

    #[test]
    fn attribute_from_label_tolerates_variants_when_csv_input() {
        let cases = [
            (" 従業員１ ", Some(Attribute::Employee1)),
            ("従業員1(社員,役員)", Some(Attribute::Employee1)),
            ("従業員2（パート、 アルバイト）", Some(Attribute::Employee2)),
            ("\u{3000}株主等", Some(Attribute::Shareholder)),
            ("従業員3", None),
            ("", None),
            ("employee1", None),
        ];
        for (input, expected) in cases {
            assert_eq!(Attribute::from_label(input), expected, "{input:?}");
        }
    }

    #[test]
    fn from_code_round_trips_when_each_enum() {
        for r in Relationship::ALL {
            assert_eq!(Relationship::from_code(r.code()), Some(r));
            assert_eq!(Relationship::from_label(r.label()), Some(r));
        }
        for k in DependentKind::ALL {
            assert_eq!(DependentKind::from_code(k.code()), Some(k));
            assert_eq!(DependentKind::from_label(k.label()), Some(k));
        }
        for s in Sex::ALL {
            assert_eq!(Sex::from_code(s.code()), Some(s));
            assert_eq!(Sex::from_label(s.label()), Some(s));
        }
        assert_eq!(Relationship::from_code("sibling"), None);
        assert_eq!(Sex::from_code(""), None);
    }

    #[test]
    fn labels_match_table_when_small_enums() {
        let relationships: Vec<_> = Relationship::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(relationships, ["配偶者", "子", "父", "母", "その他"]);
        let kinds: Vec<_> = DependentKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(kinds, ["扶養者", "国民年金の第3号被保険者"]);
        let sexes: Vec<_> = Sex::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(sexes, ["男性", "女性"]);
        assert_eq!(Sex::from_label("男"), Some(Sex::Male));
        assert_eq!(Sex::from_label("女"), Some(Sex::Female));
    }

    #[test]
    fn requires_images_is_true_when_category3() {
        assert!(DependentKind::NationalPensionCategory3.requires_images());
        assert!(!DependentKind::Dependent.requires_images());
        assert_eq!(
            DependentKind::from_label("国民年金の第３号被保険者"),
            Some(DependentKind::NationalPensionCategory3)
        );
    }
}
