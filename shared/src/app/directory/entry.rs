//! The registrant directory's entry: which attributes of a registrant item it copies and how
//! they are written into one compact string (and read back, in this format or the first).
//! Not here: where entries live and how writes keep them in step (`super`).

use std::collections::HashMap;

use serde_json::Value;

use super::ENTRY;
use crate::domain::person::Attribute;
use crate::domain::status::Status;
use crate::ports::store::{Item, Key};

/// The entry layout [`entry_item`] writes. A directory marked built in another format (or
/// none) is built again on its next list. Bump it when an attribute is inserted into
/// [`ENTRY_ATTRS`] or an encoding changes; appending one at the end needs no bump (an entry
/// written before reads it as empty).
pub const FORMAT: i64 = 2;
/// The entry's attribute: [`ENTRY_ATTRS`] encoded by [`entry_fields`]' rules.
pub const ENTRY_ATTR: &str = "d";
/// The first format's attribute (a JSON array in `ENTRY_ATTRS` order), still read.
pub const LEGACY_ENTRY_ATTR: &str = "e";

/// The registrant item's attributes an entry copies, in the entry's order (`has_number`
/// stands for whether `number` is present). `registrants::directory` reads them back by name.
pub const ENTRY_ATTRS: [&str; 16] = [
    "code",
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "attribute",
    "email",
    "status",
    "dependents_status",
    "group_id",
    "dependents",
    "has_number",
    "retired_on",
    "delete_on",
    // `import_gate::IMPORT_ATTR`: the import whose flip makes the row visible.
    "import_id",
    // `Registrant::text_cp932`: "1" when a CP932 download is known to hold the registrant's
    // rows (its dependents' too); "" when one does not or it is not known (older items).
    "text_cp932",
];

/// Separates an entry's fields (a control character no text of the list holds; escaped if
/// one does).
const SEP: char = '\u{1f}';

/// One field as the entry stores it: text as is, the status and attribute codes as one
/// letter, dates without dashes, `true` as "1"; null, `false` and missing as "".
fn field(name: &str, value: Option<&Value>) -> String {
    match (name, value) {
        ("status" | "dependents_status", Some(Value::String(code))) => Status::from_code(code)
            .map_or("", status_letter)
            .to_string(),
        ("attribute", Some(Value::String(code))) => Attribute::from_code(code)
            .map_or("", attribute_letter)
            .to_string(),
        ("retired_on" | "delete_on", Some(Value::String(day))) => day.replace('-', ""),
        (_, Some(Value::String(text))) => text.clone(),
        (_, Some(Value::Bool(true))) => "1".into(),
        (_, Some(Value::Number(n))) => n.to_string(),
        _ => String::new(),
    }
}

pub fn status_letter(s: Status) -> &'static str {
    match s {
        Status::Unregistered => "u",
        Status::Pending => "p",
        Status::SentBack => "s",
        Status::Completed => "c",
        Status::Refused => "r",
    }
}

pub fn attribute_letter(a: Attribute) -> &'static str {
    match a {
        Attribute::Employee1 => "1",
        Attribute::Employee2 => "2",
        Attribute::RemunerationPayee => "m",
        Attribute::RealEstatePayee => "e",
        Attribute::Shareholder => "s",
        Attribute::Other => "o",
    }
}

/// The fields of `values` (in [`ENTRY_ATTRS`] order) as one string: escaped, joined by
/// [`SEP`], empty ones at the end left off.
fn join_fields(values: impl Iterator<Item = String>) -> String {
    let mut fields: Vec<String> = values
        .map(|f| f.replace('\\', "\\\\").replace(SEP, "\\s"))
        .collect();
    while fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    fields.join(&SEP.to_string())
}

/// The fields of a stored entry by attribute name ("" for any it left off), from either
/// format; `None` if it holds neither.
pub fn entry_fields(item: &Item) -> Option<HashMap<&'static str, String>> {
    let values: Vec<String> = if let Some(raw) = item.str(ENTRY_ATTR) {
        raw.split(SEP).map(unescape).collect()
    } else {
        let wire: Vec<Value> = serde_json::from_str(item.str(LEGACY_ENTRY_ATTR)?).ok()?;
        ENTRY_ATTRS
            .iter()
            .zip(&wire)
            .map(|(name, v)| field(name, Some(v)))
            .collect()
    };
    let mut out: HashMap<&'static str, String> =
        ENTRY_ATTRS.iter().map(|&n| (n, String::new())).collect();
    for (name, value) in ENTRY_ATTRS.iter().zip(values) {
        out.insert(name, value);
    }
    Some(out)
}

fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
        } else if let Some(escaped) = chars.next() {
            out.push(if escaped == 's' { SEP } else { escaped });
        }
    }
    out
}

/// The raw stored form of an entry (for telling whether it changed), from either format.
pub fn entry_raw(item: &Item) -> Option<&str> {
    item.str(ENTRY_ATTR).or_else(|| item.str(LEGACY_ENTRY_ATTR))
}

/// The entry of a stored registrant item (see [`ENTRY_ATTRS`]).
pub fn entry_item(pk: &str, id: &str, registrant: &Item) -> Item {
    let values = ENTRY_ATTRS.iter().map(|&name| match name {
        "has_number" => field(
            name,
            Some(&Value::from(registrant.attrs.contains_key("number"))),
        ),
        name => field(name, registrant.attrs.get(name)),
    });
    Item::new(Key::new(pk, format!("{ENTRY}{id}"))).with(ENTRY_ATTR, join_fields(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::directory::{MOST_STAMPS, STAMP, VERSION};

    const PK: &str = "T#01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAW";

    /// DynamoDB's item size: names and values of every attribute, keys included (numbers
    /// over-counted at 8 bytes).
    fn dynamodb_bytes(item: &Item) -> usize {
        "pkpk".len()
            + item.key.pk.len()
            + item.key.sk.len()
            + item
                .attrs
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(8, str::len))
                .sum::<usize>()
    }

    #[test]
    fn entries_of_ten_thousand_registrants_fit_two_dynamodb_query_pages() {
        // given a registrant as the list bench seeds them, the longer kind (a retiree with a
        // 削除予定日, a group and an e-mail address)
        let registrant = Item::new(Key::new(PK, format!("REG#{ID}")))
            .with("code", "E01234")
            .with("family_name", "社員12")
            .with("given_name", "太郎")
            .with("family_kana", "シャインア")
            .with("given_kana", "タロウ")
            .with("attribute", "employee1")
            .with("email", "staff1234@example.jp")
            .with("status", "unregistered")
            .with("dependents_status", "unregistered")
            .with("group_id", ID)
            .with("dependents", 1)
            .with("retired_on", "2025-03-31")
            .with("delete_on", "2027-04-01");
        // when its entry is made
        let entry = entry_item(PK, ID, &registrant);
        // then 10,000 of them, with the version item at its most stamps, stay under two
        // 1 MB pages (counted as 1,000,000 bytes each, short of DynamoDB's 1,048,576)
        let stamp = STAMP.len() + "E#".len() + ID.len() + 12;
        let version = 4 + PK.len() + VERSION.len() + 2 * 9 + MOST_STAMPS * stamp;
        let total = 10_000 * dynamodb_bytes(&entry) + version;
        assert!(total <= 2_000_000, "{total} bytes");
    }
}
