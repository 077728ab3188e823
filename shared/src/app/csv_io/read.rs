//! Reading a CSV file: decoding (UTF-8 with or without BOM, CP932), line numbers as an editor
//! counts them, every row checked into the people to stage, the upload use case and the template.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{
    encode_cp932, line_errors, unescape, writer, LineError, ATTRIBUTE, BIRTH, CODE, COLUMNS,
    DELETE_ON, DEPENDENT_ROW, EMAIL, FAMILY, FAMILY_KANA, FIELDS, GIVEN, GIVEN_KANA, GROUP, HIRE,
    KIND, LAST_DECLARATION, MAX_ROWS, NOTE, NUMBER, OLD_COLUMNS, REGISTRANT_ROW, RELATIONSHIP,
    RETIRED, SEX,
};
use crate::app::actor::Actor;
use crate::app::bulk::{self, At, Checked, NewPerson, RowError, Rules};
use crate::app::dependents::DependentForm;
use crate::app::groups::{self, Group};
use crate::app::keys::TenantScope;
use crate::app::person::NamesForm;
use crate::app::registrants::RegistrantForm;
use crate::app::staging::{self, Import, Source};
use crate::app::tenants::Tenant;
use crate::app::{App, InfraError};
use crate::domain::person::{Attribute, DependentKind, Relationship, Sex};
use crate::domain::status::Status;

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

/// The rows of a decoded file as people, with the problems of its form (columns, 種別, labels,
/// links). Field rules are `app::bulk`'s.
pub(crate) fn parse(text: &str, groups: &[Group]) -> (Vec<NewPerson>, Vec<RowError>) {
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
    // Columns a row must have: all of them, or those of an older file (see its header).
    let mut width = COLUMNS.len();
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
            // A file from before the retention columns has the first fifteen only.
            if header.len() == OLD_COLUMNS && header[..] == expected[..OLD_COLUMNS] {
                width = OLD_COLUMNS;
                continue;
            }
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
        if cells.len() != width {
            refuse(
                &mut errors,
                "",
                format!(
                    "列の数が正しくありません（{}列必要なところ、{}列あります）。",
                    width,
                    cells.len()
                ),
            );
            continue;
        }
        let mut cells = cells;
        cells.resize(COLUMNS.len(), "");
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
                    (RETIRED, "retired_on"),
                    (DELETE_ON, "delete_on"),
                    (LAST_DECLARATION, "last_declaration_year"),
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
        names: NamesForm {
            family_name: cells[FAMILY].to_string(),
            given_name: cells[GIVEN].to_string(),
            family_kana: cells[FAMILY_KANA].to_string(),
            given_kana: cells[GIVEN_KANA].to_string(),
        },
        attribute: attribute.code().to_string(),
        email: cells[EMAIL].to_string(),
        sex: sex_code(cells[SEX], refuse),
        birth_date: cells[BIRTH].to_string(),
        hire_date: cells[HIRE].to_string(),
        retired_on: cells[RETIRED].to_string(),
        delete_on: cells[DELETE_ON].to_string(),
        last_declaration_year: cells[LAST_DECLARATION].to_string(),
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
        names: NamesForm {
            family_name: cells[FAMILY].to_string(),
            given_name: cells[GIVEN].to_string(),
            family_kana: cells[FAMILY_KANA].to_string(),
            given_kana: cells[GIVEN_KANA].to_string(),
        },
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
    // The forms own their cells: the decoded text is not needed any more (nor, once
    // checked, the forms: each copy of 20,000 rows is megabytes of heap).
    drop(text);
    let rules = Rules {
        status_with_number: Status::Pending,
        number_required: false,
    };
    let mut general = Vec::new();
    if !people.is_empty() {
        let checked = bulk::check(app, scope, tenant, &people, rules).await?;
        drop(people);
        match checked {
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
