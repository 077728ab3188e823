//! Proptests over the same property checks the fuzz targets run, with generators that build
//! the inputs a byte fuzzer rarely finds (valid numbers in every spelling, real days, CSV files
//! with the right header, form bodies with the right field names), and the seeds that show each
//! check can fail.

use proptest::prelude::*;

use super::*;

/// 11 digits completed with their check digit.
fn valid_number(first11: &[u8; 11]) -> String {
    let mut s: String = first11.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + check_digit(first11)));
    s
}

fn digits11() -> impl Strategy<Value = [u8; 11]> {
    prop::array::uniform11(0u8..10)
}

/// A way of writing one character of a number: as is, full-width, or with a blank or hyphen
/// users and IMEs put between digits.
fn spelled(number: &str, styles: &[u8]) -> String {
    let mut out = String::new();
    for (c, style) in number.chars().zip(styles.iter().cycle()) {
        match style % 6 {
            0 | 1 => out.push(c),
            2 => out.push(char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)),
            3 => {
                out.push(c);
                out.push(' ');
            }
            4 => {
                out.push(c);
                out.push('ー');
            }
            _ => {
                out.push('\u{3000}');
                out.push(c);
            }
        }
    }
    out
}

const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考,退職日,マイナンバー削除予定日,最終申告書年";

/// A cell of a CSV row: usually one a real file has, sometimes anything.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("登録者".to_string()),
        Just("扶養家族".to_string()),
        Just("従業員1".to_string()),
        Just("配偶者".to_string()),
        Just("S55/1/1".to_string()),
        Just("令和元年5月1日".to_string()),
        Just("\"a,\"\"b\"\"\r\nc\"".to_string()),
        digits11().prop_map(|d| valid_number(&d)),
        "\\PC{0,12}",
        "[,\"\r\n\u{E000}=+@'-]{1,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn my_number_parses_when_a_valid_number_is_spelled_any_way(
        first11 in digits11(),
        styles in prop::collection::vec(any::<u8>(), 1..12),
    ) {
        let number = valid_number(&first11);
        let typed = spelled(&number, &styles);
        prop_assert_eq!(MyNumber::parse(&typed).map(|n| n.expose().to_string()), Ok(number));
        my_number(typed.as_bytes());
    }

    #[test]
    fn my_number_agrees_with_the_check_digit_rule_when_one_digit_is_changed(
        first11 in digits11(), at in 0usize..12, by in 1u8..10,
    ) {
        let mut digits: Vec<u8> = valid_number(&first11).into_bytes();
        digits[at] = b'0' + (digits[at] - b'0' + by) % 10;
        let typed = String::from_utf8(digits).unwrap_or_default();
        // Most single-digit slips are caught, not all: remainders 0 and 1 share check digit 0.
        let want = if is_valid_number(&typed) { Ok(typed.clone()) } else { Err(MyNumberError::CheckDigit) };
        prop_assert_eq!(MyNumber::parse(&typed).map(|n| n.expose().to_string()), want);
        my_number(typed.as_bytes());
    }

    #[test]
    fn every_check_holds_when_input_is_arbitrary(data in prop::collection::vec(any::<u8>(), 0..64)) {
        my_number(&data);
        era_date(&data);
        image(&data);
        csv(&data);
        forms(&data);
    }

    #[test]
    fn era_date_round_trips_when_any_day_from_1868_to_2200(seed in any::<u32>(), text in "[0-9SHRMThsrmt元年月日/.\\-]{0,12}") {
        let mut data = seed.to_le_bytes().to_vec();
        data.extend_from_slice(text.as_bytes());
        era_date(&data);
    }

    #[test]
    fn csv_reader_holds_when_the_file_has_the_header_and_any_rows(
        rows in prop::collection::vec(prop::collection::vec(cell(), 15..=19), 0..6),
        line_end in prop::sample::select(vec!["\r\n", "\n", "\r"]),
        bom in any::<bool>(),
    ) {
        let mut file = String::new();
        if bom {
            file.push('\u{feff}');
        }
        file.push_str(HEADER);
        for row in &rows {
            file.push_str(line_end);
            file.push_str(&row.join(","));
        }
        csv(file.as_bytes());
        if let Some(cp932) = csv_io::encode_cp932(&file) {
            csv(&cp932);
        }
    }

    #[test]
    fn forms_hold_when_the_body_has_the_forms_field_names(
        which in any::<u8>(),
        fields in prop::collection::vec((prop::sample::select(vec![
            "number1", "number2", "number3", "birth_date", "birth_year", "birth_month",
            "birth_day", "sex", "family_name", "given_name", "note", "code", "attribute",
            "relationship", "kind", "hire_date", "retired_on", "delete_on",
            "last_declaration_year", "confirmed", "before", "email",
        ]), "\\PC{0,14}"), 0..10),
    ) {
        let body = serde_urlencoded::to_string(&fields).unwrap_or_default();
        let mut data = vec![which];
        data.extend_from_slice(body.as_bytes());
        forms(&data);
    }
}

/// Each check must be able to fail: a property that a broken parser would still pass proves
/// nothing. These feed the oracles with what a wrong parser would produce.
#[test]
fn oracles_refuse_when_given_a_wrong_answer() {
    assert!(is_valid_number("621498320257"));
    assert!(!is_valid_number("621498320258"));
    assert!(!is_valid_number("62149832025"));
    assert_eq!(typed_digits("６２１4-98"), "621498");
    assert_eq!(line_count("a\r\nb\rc\nd"), 4);
    assert_eq!(
        letter_form(date!(1980 - 01 - 01)).as_deref(),
        Some("S55.1.1")
    );
    assert_eq!(
        letter_form(date!(1912 - 07 - 30)).as_deref(),
        Some("T1.7.30")
    );
    assert_eq!(letter_form(date!(1868 - 10 - 22)), None);
    let out_of_range = std::panic::catch_unwind(|| date_round_trips(date!(2201 - 01 - 01)));
    assert!(
        out_of_range.is_err(),
        "a day after 2200 must fail the date check"
    );
}

#[test]
fn image_check_holds_when_each_magic_number_is_at_the_4mb_edge() {
    for magic in [
        &[0xFF, 0xD8, 0xFF, 0xE0][..],
        b"\x89PNG\r\n\x1a\n",
        b"GIF87a",
        b"GIF89a",
        b"GIF88a",
        b"\x89PNG\r\n\x1a\r",
    ] {
        image(magic);
        for size in [0, MAX_IMAGE_BYTES, MAX_IMAGE_BYTES + 1] {
            let mut data = magic.to_vec();
            data.resize(8, 0);
            data.extend_from_slice(&size.to_le_bytes());
            assert_eq!(claimed_size(&data), size);
            image(&data);
        }
    }
}
