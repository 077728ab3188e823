//! CSVアップロード and CSVダウンロード (manual ch.6, 10): one file format for both ways, so a
//! downloaded file uploads again into another account with the same people and numbers.
//!
//! Format: a header row, then one row per person. `種別` says whether the row is a 登録者 or
//! a 扶養家族; a 扶養家族 row belongs to the 登録者 row with its `社員コード` above it, or, with
//! the code left blank, to the nearest 登録者 row above it (the download writes each registrant
//! followed by its dependents). Dates in Western or era form, the number as 12 digits.
//!
//! Reading: UTF-8 with or without BOM, or Shift_JIS (CP932), CRLF, LF or CR, quoted fields.
//! Lines are reported as an editor numbers them (a quoted line break starts a new line too). A
//! file that is not valid UTF-8 and does not decode as CP932 without a single replacement is
//! refused ("文字コードを判別できません"); so are an empty file, an unclosed quote and 外字
//! (the user-defined area of CP932, which shows differently on every other computer). Every bad row is reported (line, column, reason), and then
//! nothing is imported; a good file is staged and committed by `app::staging`. Imported
//! records with a number are 承認待 (as from 新規追加: no document was checked).
//!
//! Writing: CP932 by default (Excel), or UTF-8 with BOM. The usual Unicode look-alikes are
//! written as Windows writes them (〜 → ～, − → －, — → ―, ‖ → ∥, ¢ £ ¬ → ￠ ￡ ￢). A name that
//! CP932 still cannot hold (e.g. 𠮷) refuses the CP932 download, listing every such cell (line,
//! column, characters), and offers UTF-8 instead: a silently replaced character would be a
//! wrong name on a legal form. Cells
//! that Excel would run as a formula (`= + - @` first) get a leading `'`, which reading
//! removes again. The download streams: numbers are opened page by page with one data key.

use std::collections::HashMap;

use futures_util::stream::{self, Stream};
use sha2::{Digest, Sha256};

use super::actor::Actor;
use super::bulk::{self, At, Checked, NewPerson, RowError, Rules};
use super::dependents::{self as deps, Dependent, DependentForm};
use super::groups::{self, Group};
use super::keys::{sk, TenantScope};
use super::person::PersonCore;
use super::registrants::{self as regs, Filter, Registrant, RegistrantForm};
use super::staging::{self, Import, Source};
use super::tenants::Tenant;
use super::usage::{self, RevealError};
use super::users::User;
use super::vault::TenantCipher;
use super::{App, InfraError};
use crate::domain::date::format_slash;
use crate::domain::person::{Attribute, DependentKind, Relationship, Sex};
use crate::domain::status::Status;
use crate::ports::audit::AuditEvent;
use crate::ports::store::Query;

/// One column of the file: name (the header), whether it is required, format, example.
pub struct Column {
    pub label: &'static str,
    pub required: &'static str,
    pub format: &'static str,
    pub example: &'static str,
}

const KIND: usize = 0;
const CODE: usize = 1;
const ATTRIBUTE: usize = 2;
const FAMILY: usize = 3;
const GIVEN: usize = 4;
const FAMILY_KANA: usize = 5;
const GIVEN_KANA: usize = 6;
const BIRTH: usize = 7;
const SEX: usize = 8;
const NUMBER: usize = 9;
const RELATIONSHIP: usize = 10;
const HIRE: usize = 11;
const EMAIL: usize = 12;
const GROUP: usize = 13;
const NOTE: usize = 14;

/// The columns, in file order (documented on the upload page).
pub const COLUMNS: [Column; 15] = [
    Column {
        label: "種別",
        required: "必須",
        format: "「登録者」または「扶養家族」",
        example: "登録者",
    },
    Column {
        label: "社員コード",
        required: "任意",
        format: "半角英数字・ハイフン・アンダーバー20文字まで。扶養家族の行では、その登録者の社員コード（空欄なら直前の登録者）",
        example: "E0001",
    },
    Column {
        label: "属性",
        required: "必須",
        format: "登録者: 従業員1（社員、役員）／従業員2（パート、アルバイト）／報酬等の支払先／不動産等の支払先／株主等／その他（「従業員1」などの略称も可）。扶養家族: 扶養者／国民年金の第3号被保険者",
        example: "従業員1",
    },
    Column {
        label: "氏名（姓）",
        required: "必須",
        format: "50文字まで",
        example: "山田",
    },
    Column {
        label: "氏名（名）",
        required: "扶養家族は必須",
        format: "50文字まで",
        example: "太郎",
    },
    Column {
        label: "フリガナ（セイ）",
        required: "任意",
        format: "50文字まで",
        example: "ヤマダ",
    },
    Column {
        label: "フリガナ（メイ）",
        required: "任意",
        format: "50文字まで",
        example: "タロウ",
    },
    Column {
        label: "生年月日",
        required: "任意",
        format: "西暦（1980/1/1）または和暦（S55/1/1、昭和55年1月1日）",
        example: "1980/01/01",
    },
    Column {
        label: "性別",
        required: "任意",
        format: "男性／女性（男／女も可）",
        example: "男性",
    },
    Column {
        label: "マイナンバー",
        required: "任意",
        format: "12桁の数字（Excelで開く場合は列の書式を「文字列」に）",
        // Never a number in a sample file: one imported unedited must not store a fake one.
        example: "",
    },
    Column {
        label: "続柄",
        required: "扶養家族は必須",
        format: "配偶者／子／父／母／その他（登録者の行は空欄）",
        example: "",
    },
    Column {
        label: "入社日",
        required: "任意",
        format: "西暦または和暦（扶養家族の行は空欄）",
        example: "2020/04/01",
    },
    Column {
        label: "メールアドレス",
        required: "任意",
        format: "扶養家族の行は空欄",
        example: "taro@example.jp",
    },
    Column {
        label: "グループ",
        required: "任意",
        format: "登録済みのグループ名（扶養家族の行は空欄）",
        example: "",
    },
    Column {
        label: "備考",
        required: "任意",
        format: "500文字まで（扶養家族の行は空欄）",
        example: "",
    },
];

const REGISTRANT_ROW: &str = "登録者";
const DEPENDENT_ROW: &str = "扶養家族";

/// Most data rows one file may hold.
pub const MAX_ROWS: usize = 20_000;

/// The form field each column fills (`app::bulk`'s field names), in file order.
const FIELDS: [&str; 15] = [
    "row_type",
    "code",
    "attribute",
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "birth_date",
    "sex",
    "number",
    "relationship",
    "hire_date",
    "email",
    "group_id",
    "note",
];

/// The column a form field is shown in.
fn column_of(field: &str, dependent: bool) -> &'static str {
    let i = match field {
        "kind" if dependent => ATTRIBUTE,
        "dependents" => KIND,
        _ => match FIELDS.iter().position(|f| *f == field) {
            Some(i) => i,
            None => return "",
        },
    };
    COLUMNS[i].label
}

/// One reported problem of a file, ready for the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// Line in the file (1 = the header), or 0 for the file as a whole.
    pub line: usize,
    pub column: &'static str,
    pub message: String,
}

impl LineError {
    fn file(message: impl Into<String>) -> LineError {
        LineError {
            line: 0,
            column: "",
            message: message.into(),
        }
    }
}

fn line_errors(rows: Vec<RowError>) -> Vec<LineError> {
    rows.into_iter()
        .map(|e| LineError {
            line: e.at.row,
            column: column_of(e.field, e.at.dependent.is_some()),
            message: e.message,
        })
        .collect()
}

// ---------------------------------------------------------------- reading

/// Which encoding a file turned out to be in.
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), LineError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(body) {
        return Ok((text.to_string(), "UTF-8"));
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| (text.into_owned(), "Shift_JIS（CP932）"))
        .ok_or_else(|| {
            LineError::file(
                "文字コードを判別できません。UTF-8 または Shift_JIS（CP932）で保存したCSVファイルを選んでください。",
            )
        })
}

/// Whether a file holds nothing at all (0 bytes, or only a BOM and blank space).
pub fn is_empty_file(bytes: &[u8]) -> bool {
    bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .iter()
        .all(u8::is_ascii_whitespace)
}

/// Physical lines of a text, as an editor numbers them: a line ends at CRLF, LF or a lone CR
/// (Excel on Windows, Unix tools, old Mac files), also inside a quoted cell.
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let ends = match b {
                b'\n' => true,
                b'\r' => bytes.get(i + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends {
                starts.push(i + 1);
            }
        }
        Lines(starts)
    }

    /// The line (from 1) of a record starting at byte `at`. The reader may place a record just
    /// before the line break that ended the previous one, so breaks are skipped first.
    fn of_record(&self, text: &str, at: usize) -> usize {
        let at = text
            .get(at..)
            .and_then(|rest| rest.find(|c| c != '\r' && c != '\n'))
            .map_or(at, |skip| at + skip);
        self.0.partition_point(|&start| start <= at)
    }
}

/// An opening quote that is never closed: the csv reader would take the rest of the file as
/// one cell. Returns the byte of the quote and the column (from 0) it opens.
fn unclosed_quote(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut open: Option<(usize, usize)> = None;
    let mut field_start = true;
    let mut column = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match open {
            Some(_) if b == b'"' && bytes.get(i + 1) == Some(&b'"') => i += 1,
            Some(_) if b == b'"' => {
                open = None;
                field_start = false;
            }
            Some(_) => {}
            None => match b {
                b'"' if field_start => open = Some((i, column)),
                b',' => {
                    field_start = true;
                    column += 1;
                }
                b'\r' | b'\n' => {
                    field_start = true;
                    column = 0;
                }
                _ => field_start = false,
            },
        }
        i += 1;
    }
    open
}

/// A character of the private use area: 外字 (CP932 bytes F040–F9FC decode to U+E000–U+E757),
/// which shows as a different character, or none, on every other computer.
fn is_gaiji(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

/// A cell as written for Excel, back to what it says.
fn unescape(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}

/// A cell Excel must not run as a formula.
fn escape(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The rows of a decoded file as people, with the problems of its form (columns, 種別, labels,
/// links). Field rules are `app::bulk`'s.
fn parse(text: &str, groups: &[Group]) -> (Vec<NewPerson>, Vec<RowError>) {
    let mut people: Vec<NewPerson> = Vec::new();
    let mut errors = Vec::new();
    let mut by_code: HashMap<String, usize> = HashMap::new();
    let lines = Lines::of(text);
    if let Some((at, column)) = unclosed_quote(text) {
        let line = lines.of_record(text, at);
        errors.push(RowError {
            at: At { row: line, dependent: None },
            field: FIELDS.get(column).copied().unwrap_or(""),
            message: "この項目の引用符「\"」が閉じられていません。引用符で始めた項目は引用符で閉じてください（項目の中の「\"」は「\"\"」と2つ重ねます）。この行から後は読めませんでした。".into(),
        });
        return (people, errors);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = 0;
    for (n, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| lines.of_record(text, p.byte() as usize));
                errors.push(RowError {
                    at: At { row: line, dependent: None },
                    field: "",
                    message: "CSVの形式が正しくありません（引用符「\"」の対応などをご確認ください）。以降の行は読めませんでした。".into(),
                });
                break;
            }
        };
        let line = record
            .position()
            .map_or(n + 1, |p| lines.of_record(text, p.byte() as usize));
        let cells: Vec<&str> = record.iter().map(|c| unescape(c.trim())).collect();
        let at = At {
            row: line,
            dependent: None,
        };
        let refuse = |errors: &mut Vec<RowError>, field: &'static str, message: String| {
            errors.push(RowError { at, field, message })
        };
        if n == 0 {
            let header: Vec<&str> = cells
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}'))
                .collect();
            let expected: Vec<&str> = COLUMNS.iter().map(|c| c.label).collect();
            if header != expected {
                refuse(&mut errors, "", "1行目は見出し行です。テンプレートの見出し行（種別,社員コード,属性,…）をそのまま使ってください。".into());
                break;
            }
            continue;
        }
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            refuse(
                &mut errors,
                "",
                format!(
                    "1つのファイルで登録できるのは{MAX_ROWS}行までです。ファイルを分けてください。"
                ),
            );
            break;
        }
        for (i, cell) in cells.iter().enumerate() {
            if cell.chars().any(is_gaiji) {
                refuse(
                    &mut errors,
                    FIELDS.get(i).copied().unwrap_or(""),
                    "外字（利用者が作成した文字）が含まれています。ほかのパソコンでは別の文字に見えるため登録できません。通常の文字に置き換えてください。".into(),
                );
            }
        }
        if cells.len() != COLUMNS.len() {
            refuse(
                &mut errors,
                "",
                format!(
                    "列の数が正しくありません（{}列必要なところ、{}列あります）。",
                    COLUMNS.len(),
                    cells.len()
                ),
            );
            continue;
        }
        match cells[KIND] {
            REGISTRANT_ROW => {
                for i in [RELATIONSHIP] {
                    if !cells[i].is_empty() {
                        refuse(
                            &mut errors,
                            "relationship",
                            "登録者の行には入力できません（扶養家族の行の項目です）。".into(),
                        );
                    }
                }
                let form = registrant_form(&cells, groups, &mut |f, m| refuse(&mut errors, f, m));
                if !form.code.is_empty() {
                    by_code.insert(form.code.clone(), people.len());
                }
                people.push(NewPerson {
                    at,
                    form,
                    dependents: Vec::new(),
                });
            }
            DEPENDENT_ROW => {
                for (i, field) in [
                    (HIRE, "hire_date"),
                    (EMAIL, "email"),
                    (GROUP, "group_id"),
                    (NOTE, "note"),
                ] {
                    if !cells[i].is_empty() {
                        refuse(
                            &mut errors,
                            field,
                            "扶養家族の行には入力できません（登録者の行の項目です）。".into(),
                        );
                    }
                }
                let owner = match cells[CODE] {
                    "" => people.len().checked_sub(1),
                    code => by_code.get(code).copied(),
                };
                let form = dependent_form(&cells, &mut |f, m| refuse(&mut errors, f, m));
                match owner.and_then(|i| people.get_mut(i)) {
                    Some(p) => {
                        let at = At {
                            row: line,
                            dependent: Some(p.dependents.len()),
                        };
                        p.dependents.push((at, form));
                    }
                    None => refuse(
                        &mut errors,
                        "code",
                        match cells[CODE] {
                            "" => "この扶養家族の登録者が見つかりません（扶養家族の行は、その登録者の行より後に置いてください）。".into(),
                            code => format!("社員コード「{code}」の登録者の行が、この行より前にありません。"),
                        },
                    ),
                }
            }
            "" => refuse(
                &mut errors,
                "row_type",
                "種別を入力してください（登録者／扶養家族）。".into(),
            ),
            other => refuse(
                &mut errors,
                "row_type",
                format!(
                    "種別「{other}」は使えません。「登録者」か「扶養家族」を入力してください。"
                ),
            ),
        }
    }
    if rows == 0 && errors.is_empty() {
        errors.push(RowError {
            at: At {
                row: 0,
                dependent: None,
            },
            field: "",
            message: "登録する行がありません。".into(),
        });
    }
    (people, errors)
}

fn sex_code(raw: &str, refuse: &mut dyn FnMut(&'static str, String)) -> String {
    match raw {
        "" => String::new(),
        s => Sex::from_label(s).map_or_else(
            || {
                refuse(
                    "sex",
                    format!("性別「{s}」は使えません。「男性」か「女性」を入力してください。"),
                );
                String::new()
            },
            |s| s.code().to_string(),
        ),
    }
}

fn registrant_form(
    cells: &[&str],
    groups: &[Group],
    refuse: &mut dyn FnMut(&'static str, String),
) -> RegistrantForm {
    let attribute = match cells[ATTRIBUTE] {
        "" => {
            refuse("attribute", "属性を入力してください。".into());
            Attribute::ALL[0]
        }
        label => Attribute::from_label(label).unwrap_or_else(|| {
            let all: Vec<&str> = Attribute::ALL.iter().map(|a| a.label()).collect();
            refuse(
                "attribute",
                format!(
                    "属性「{label}」は使えません。使える属性: {}",
                    all.join("／")
                ),
            );
            Attribute::ALL[0]
        }),
    };
    let group_id = match cells[GROUP] {
        "" => String::new(),
        name => groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.id.clone())
            .unwrap_or_else(|| {
                refuse(
                    "group_id",
                    format!("グループ「{name}」は登録されていません。先に「グループ管理」で作成してください。"),
                );
                String::new()
            }),
    };
    RegistrantForm {
        group_id,
        code: cells[CODE].to_string(),
        family_name: cells[FAMILY].to_string(),
        given_name: cells[GIVEN].to_string(),
        family_kana: cells[FAMILY_KANA].to_string(),
        given_kana: cells[GIVEN_KANA].to_string(),
        attribute: attribute.code().to_string(),
        email: cells[EMAIL].to_string(),
        sex: sex_code(cells[SEX], refuse),
        birth_date: cells[BIRTH].to_string(),
        hire_date: cells[HIRE].to_string(),
        note: cells[NOTE].to_string(),
        number1: cells[NUMBER].to_string(),
        ..RegistrantForm::default()
    }
}

fn dependent_form(cells: &[&str], refuse: &mut dyn FnMut(&'static str, String)) -> DependentForm {
    let kind = match cells[ATTRIBUTE] {
        "" => String::new(),
        label => DependentKind::from_label(label).map_or_else(
            || {
                refuse(
                    "kind",
                    format!("扶養家族の属性「{label}」は使えません。「扶養者」か「国民年金の第3号被保険者」を入力してください。"),
                );
                DependentKind::ALL[0].code().to_string()
            },
            |k| k.code().to_string(),
        ),
    };
    let relationship = match cells[RELATIONSHIP] {
        "" => String::new(),
        label => Relationship::from_label(label).map_or_else(
            || {
                refuse(
                    "relationship",
                    format!("続柄「{label}」は使えません。配偶者／子／父／母／その他のいずれかを入力してください。"),
                );
                Relationship::ALL[0].code().to_string()
            },
            |r| r.code().to_string(),
        ),
    };
    DependentForm {
        family_name: cells[FAMILY].to_string(),
        given_name: cells[GIVEN].to_string(),
        family_kana: cells[FAMILY_KANA].to_string(),
        given_kana: cells[GIVEN_KANA].to_string(),
        relationship,
        kind,
        sex: sex_code(cells[SEX], refuse),
        birth_date: cells[BIRTH].to_string(),
        number1: cells[NUMBER].to_string(),
        ..DependentForm::default()
    }
}

/// The outcome of an upload.
pub enum Uploaded {
    /// Every row is fine; the people are staged, waiting for 登録.
    Staged {
        import: Box<Import>,
        encoding: &'static str,
    },
    /// Nothing was staged: every problem found.
    Refused(Vec<LineError>),
}

/// Reads, checks and (only if every row is fine) stages an uploaded file.
pub async fn upload(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    bytes: &[u8],
) -> Result<Uploaded, InfraError> {
    if is_empty_file(bytes) {
        return Ok(Uploaded::Refused(vec![LineError::file(
            "選択したファイルは空です（中身がありません）。見出し行と登録する行を入力したCSVファイルを選んでください。",
        )]));
    }
    let (text, encoding) = match decode(bytes) {
        Ok(decoded) => decoded,
        Err(e) => return Ok(Uploaded::Refused(vec![e])),
    };
    let groups = groups::list(scope).await?;
    let (people, mut errors) = parse(&text, &groups);
    let rules = Rules {
        status_with_number: Status::Pending,
        number_required: false,
    };
    let mut general = Vec::new();
    if !people.is_empty() {
        match bulk::check(app, scope, tenant, &people, rules).await? {
            Checked::Ready(ready) if errors.is_empty() => {
                let digest = crate::crypto::hex(&Sha256::digest(bytes));
                let import =
                    staging::stage(app, scope, actor, Source::Csv, &digest, &ready).await?;
                return Ok(Uploaded::Staged {
                    import: Box::new(import),
                    encoding,
                });
            }
            Checked::Ready(_) => {}
            Checked::Refused { rows, general: g } => {
                errors.extend(rows);
                general = g;
            }
        }
    }
    // Messages from the form rules name the field already; one line per problem.
    errors.sort_by_key(|e| e.at.row);
    let mut out: Vec<LineError> = general.into_iter().map(LineError::file).collect();
    out.extend(line_errors(errors));
    Ok(Uploaded::Refused(out))
}

/// The template offered for download: the header and an example registrant with a dependent,
/// in CP932 with CRLF (as Excel saves it).
pub fn template() -> Vec<u8> {
    let mut w = writer();
    let example: Vec<&str> = COLUMNS.iter().map(|c| c.example).collect();
    let dependent = [
        DEPENDENT_ROW,
        "E0001",
        "扶養者",
        "山田",
        "花子",
        "ヤマダ",
        "ハナコ",
        "H22/4/1",
        "女性",
        "",
        "子",
        "",
        "",
        "",
        "",
    ];
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.label).collect();
    for row in [header, example, dependent.to_vec()] {
        // Writing to memory cannot fail.
        let _ = w.write_record(row);
    }
    let text = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    encode_cp932(&text).unwrap_or_default()
}

// ---------------------------------------------------------------- writing

/// The encoding of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Cp932,
    Utf8Bom,
}

impl Encoding {
    pub fn from_code(code: &str) -> Encoding {
        if code == "utf8" {
            Encoding::Utf8Bom
        } else {
            Encoding::Cp932
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Cp932 => "text/csv; charset=Shift_JIS",
            Encoding::Utf8Bom => "text/csv; charset=UTF-8",
        }
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// The rows of one registrant and its dependents; numbers opened only with a cipher.
fn person_rows(
    r: &Registrant,
    dependents: &[Dependent],
    groups: &HashMap<String, String>,
    cipher: Option<&TenantCipher>,
) -> Result<Vec<[String; 15]>, InfraError> {
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_default();
    let number = |id: &str, n: &Option<regs::SealedNumber>| -> Result<String, InfraError> {
        match (cipher, n) {
            (Some(c), Some(n)) => Ok(c.open(id, &n.sealed)?.expose().to_string()),
            _ => Ok(String::new()),
        }
    };
    let sex = |s: Option<Sex>| s.map_or("", Sex::label).to_string();
    // 氏名 … マイナンバー: the columns a registrant's and a dependent's rows fill alike.
    let person = |id: &str, p: &PersonCore| -> Result<[String; 7], InfraError> {
        Ok([
            escape(&p.family_name),
            escape(&p.given_name),
            escape(&p.family_kana),
            escape(&p.given_kana),
            date(p.birth_date),
            sex(p.sex),
            number(id, &p.number)?,
        ])
    };
    let group = r
        .group_id
        .as_ref()
        .and_then(|g| groups.get(g))
        .map_or("", String::as_str);
    let mut rows = vec![row(
        [
            REGISTRANT_ROW.to_string(),
            escape(&r.code),
            r.attribute.label().to_string(),
        ],
        person(&r.id, &r.person)?,
        [
            String::new(),
            date(r.hire_date),
            escape(r.email.as_deref().unwrap_or_default()),
            escape(group),
            escape(&r.note),
        ],
    )];
    for d in dependents {
        rows.push(row(
            [
                DEPENDENT_ROW.to_string(),
                escape(&r.code),
                d.kind.label().to_string(),
            ],
            person(&d.id, &d.person)?,
            [
                d.relationship.label().to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        ));
    }
    Ok(rows)
}

/// One CSV row: 区分・社員コード・属性, the person's seven columns, then 続柄 … 備考.
fn row(head: [String; 3], person: [String; 7], tail: [String; 5]) -> [String; 15] {
    let mut cells = head.into_iter().chain(person).chain(tail);
    std::array::from_fn(|_| cells.next().unwrap_or_default())
}

/// Characters CP932 has no code for, but a look-alike Windows writes in their place (what
/// Excel and Windows' own conversion do): 〜 − — ‖ ¢ £ ¬ become ～ － ― ∥ ￠ ￡ ￢.
const CP932_LOOKALIKES: [(char, char); 7] = [
    ('\u{301C}', '\u{FF5E}'),
    ('\u{2212}', '\u{FF0D}'),
    ('\u{2014}', '\u{2015}'),
    ('\u{2016}', '\u{2225}'),
    ('\u{00A2}', '\u{FFE0}'),
    ('\u{00A3}', '\u{FFE1}'),
    ('\u{00AC}', '\u{FFE2}'),
];

/// A text with the look-alikes of [`CP932_LOOKALIKES`] swapped in, ready for CP932.
pub fn cp932_lookalikes(text: &str) -> String {
    text.chars()
        .map(|c| {
            CP932_LOOKALIKES
                .iter()
                .find(|(from, _)| *from == c)
                .map_or(c, |(_, to)| *to)
        })
        .collect()
}

/// Text in CP932, look-alikes swapped in; `None` if a character still has no code.
pub fn encode_cp932(text: &str) -> Option<Vec<u8>> {
    let text = cp932_lookalikes(text);
    let (out, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    (!bad).then(|| out.into_owned())
}

/// A cell a CP932 download cannot hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwritable {
    /// Line in the file (1 = the header).
    pub line: usize,
    /// Whose row it is (姓 名).
    pub name: String,
    pub column: &'static str,
    /// The characters without a code, each once.
    pub chars: String,
}

/// The cells of a row CP932 cannot hold, with their characters.
fn unrepresentable(line: usize, row: &[String; 15]) -> Vec<Unwritable> {
    row.iter()
        .enumerate()
        .filter(|(_, cell)| encode_cp932(cell).is_none())
        .map(|(i, cell)| {
            let mut chars = String::new();
            for c in cell.chars() {
                if encode_cp932(c.encode_utf8(&mut [0; 4])).is_none() && !chars.contains(c) {
                    chars.push(c);
                }
            }
            Unwritable {
                line,
                name: format!("{} {}", row[FAMILY], row[GIVEN]),
                column: COLUMNS[i].label,
                chars,
            }
        })
        .collect()
}

/// Registrants, each with its dependents, ready to write.
type People = Vec<(Registrant, Vec<Dependent>)>;

/// Registrants exported per piece of the stream.
const ROWS_PER_PIECE: usize = 200;

/// The dependents of these registrants: a query each for a few, one walk for many.
async fn with_dependents(
    scope: &TenantScope,
    registrants: Vec<Registrant>,
) -> Result<People, InfraError> {
    let with: Vec<&Registrant> = registrants.iter().filter(|r| r.dependents > 0).collect();
    let mut found: HashMap<String, Vec<Dependent>> = HashMap::new();
    if with.len() <= 50 {
        for r in with {
            found.insert(r.id.clone(), deps::list(scope, &r.id).await?);
        }
    } else {
        let wanted: std::collections::HashSet<&str> = with.iter().map(|r| r.id.as_str()).collect();
        let mut cursor = None;
        loop {
            let page = scope
                .query(
                    &Query::partition(scope.pk())
                        .prefix(sk::REGISTRANTS_AND_DEPENDENTS)
                        .limit(1000)
                        .after(cursor),
                )
                .await?;
            for d in page.items.iter().filter_map(Dependent::from_item) {
                if wanted.contains(d.registrant_id.as_str()) {
                    found.entry(d.registrant_id.clone()).or_default().push(d);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(registrants
        .into_iter()
        .map(|r| {
            let d = found.remove(&r.id).unwrap_or_default();
            (r, d)
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Reauth(#[from] RevealError),
    #[error("Shift_JIS（CP932）で表せない文字が{}か所にあります。文字コードで「UTF-8（BOM付き）」を選んでダウンロードするか、下記の文字を直してください。", .0.len())]
    Unrepresentable(Vec<Unwritable>),
    #[error("該当する登録者がいません。検索条件をご確認ください。")]
    Empty,
}

/// A download about to stream.
pub struct Export {
    pub filename: String,
    pub content_type: &'static str,
    pub registrants: usize,
    pub dependents: usize,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Vec<u8>, InfraError>> + Send>>,
}

/// What the download form asked for.
pub struct ExportRequest<'a> {
    pub filter: &'a Filter,
    pub password: &'a str,
    pub purpose: &'a str,
    pub encoding: Encoding,
}

/// How many registrants a filter selects (shown on the download form).
pub async fn count(scope: &TenantScope, filter: &Filter) -> Result<usize, InfraError> {
    Ok(regs::select(scope, filter).await?.0.len())
}

/// CSVダウンロード: after the password and a purpose (the checks of 表示), the registrants the
/// list's filter selects and their dependents, numbers included. Audited (purpose, count)
/// before the first byte; one data-key unwrap for the whole file.
pub async fn export(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
    actor: &Actor,
    req: ExportRequest<'_>,
) -> Result<Result<Export, ExportError>, InfraError> {
    let purpose =
        match usage::reauthenticate(app, scope, user, actor, req.password, req.purpose).await {
            Ok(p) => p,
            Err(RevealError::Infra(e)) => return Err(e),
            Err(RevealError::WrongPassword) => {
                record(
                    app,
                    scope,
                    actor,
                    "csv.export_denied",
                    "CSVダウンロード（パスワード誤り）".into(),
                )
                .await?;
                return Ok(Err(RevealError::WrongPassword.into()));
            }
            Err(e) => return Ok(Err(e.into())),
        };
    let (registrants, _) = regs::select(scope, req.filter).await?;
    if registrants.is_empty() {
        return Ok(Err(ExportError::Empty));
    }
    let people = with_dependents(scope, registrants).await?;
    let groups: HashMap<String, String> = groups::list(scope)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    if req.encoding == Encoding::Cp932 {
        let mut line = 1;
        let mut unwritable = Vec::new();
        for (r, d) in &people {
            for row in person_rows(r, d, &groups, None)? {
                line += 1;
                unwritable.extend(unrepresentable(line, &row));
            }
        }
        if !unwritable.is_empty() {
            return Ok(Err(ExportError::Unrepresentable(unwritable)));
        }
    }
    let dependents: usize = people.iter().map(|(_, d)| d.len()).sum();
    let registrants = people.len();
    // No audit entry, no file.
    record(
        app,
        scope,
        actor,
        "csv.export",
        format!(
            "CSVダウンロード（利用目的: {}）: 登録者{registrants}人・扶養家族{dependents}人、計{}人",
            purpose.label(),
            registrants + dependents
        ),
    )
    .await?;
    let cipher = app.vault.cipher(&tenant.keys).await?;
    let now = app.now().to_offset(time::macros::offset!(+9));
    Ok(Ok(Export {
        filename: format!(
            "mynumber_{:04}{:02}{:02}_{:02}{:02}.csv",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute()
        ),
        content_type: req.encoding.content_type(),
        registrants,
        dependents,
        body: Box::pin(rows_stream(people, groups, cipher, req.encoding)),
    }))
}

async fn record(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    action: &str,
    detail: String,
) -> Result<(), InfraError> {
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: action.into(),
            target: None,
            detail,
            ip: Some(actor.ip.clone()),
        })
        .await?;
    Ok(())
}

/// The file, piece by piece: the header, then [`ROWS_PER_PIECE`] registrants at a time.
pub fn rows_stream(
    people: People,
    groups: HashMap<String, String>,
    cipher: TenantCipher,
    encoding: Encoding,
) -> impl Stream<Item = Result<Vec<u8>, InfraError>> + Send {
    let state = (people.into_iter(), true);
    stream::unfold(state, move |(mut rest, first)| {
        let taken: People = rest.by_ref().take(ROWS_PER_PIECE).collect();
        let piece = (first || !taken.is_empty())
            .then(|| write_piece(first, &taken, &groups, &cipher, encoding));
        std::future::ready(piece.map(|p| (p, (rest, false))))
    })
}

fn write_piece(
    header: bool,
    people: &[(Registrant, Vec<Dependent>)],
    groups: &HashMap<String, String>,
    cipher: &TenantCipher,
    encoding: Encoding,
) -> Result<Vec<u8>, InfraError> {
    let mut w = writer();
    let io = |_| InfraError::Task;
    if header {
        w.write_record(COLUMNS.iter().map(|c| c.label))
            .map_err(io)?;
    }
    for (r, d) in people {
        for row in person_rows(r, d, groups, Some(cipher))? {
            w.write_record(&row).map_err(io)?;
        }
    }
    let bytes = w.into_inner().map_err(|_| InfraError::Task)?;
    Ok(match encoding {
        Encoding::Utf8Bom if header => [b"\xEF\xBB\xBF".as_slice(), &bytes].concat(),
        Encoding::Utf8Bom => bytes,
        Encoding::Cp932 => {
            let text = String::from_utf8(bytes).map_err(|_| InfraError::Task)?;
            encode_cp932(&text).ok_or(InfraError::Corrupt("text not representable in CP932"))?
        }
    })
}
