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
//! removes again. The download streams: numbers are opened page by page with one data key,
//! reading the rows once. Whom it holds, and whether CP932 holds their cells, come from the
//! registrant directory before a row is read: each registrant item carries `text_cp932` (its
//! own cells and its dependents', set on every write) and the directory copies it; only a
//! selection holding a row that does not fit, or one written before the flag, reads the rows
//! a second time to list the cells.
//!
//! This file: the format (columns, row kinds, cell escaping); `read` reads and uploads, `write`
//! writes and exports.

use super::bulk::RowError;

mod read;
mod write;
/// The reader's pure part, for the fuzz targets (`crate::fuzzing`).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use read::parse;
pub use read::{decode, is_empty_file, template, upload, Uploaded};
pub use write::{
    count, cp932_lookalikes, encode_cp932, encode_download, export, Encoding, Export, ExportError,
    ExportRequest, Unwritable,
};

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
const RETIRED: usize = 15;
const DELETE_ON: usize = 16;
const LAST_DECLARATION: usize = 17;

/// The columns, in file order (documented on the upload page).
pub const COLUMNS: [Column; 18] = [
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
    Column {
        label: "退職日",
        required: "任意",
        format: "西暦または和暦（扶養家族の行は空欄）",
        example: "",
    },
    Column {
        label: "マイナンバー削除予定日",
        required: "任意",
        format: "西暦または和暦。空欄で退職日があれば法定保存期間から提案（扶養家族の行は空欄）",
        example: "",
    },
    Column {
        label: "最終申告書年",
        required: "任意",
        format: "西暦4桁。空欄は退職年とみなす（扶養家族の行は空欄）",
        example: "",
    },
];

/// The columns of files written before 退職日・削除予定日・最終申告書年 existed: such a file
/// (its header and rows end at 備考) still imports, with the three left blank.
const OLD_COLUMNS: usize = 15;

const REGISTRANT_ROW: &str = "登録者";
const DEPENDENT_ROW: &str = "扶養家族";

/// Most data rows one file may hold.
pub const MAX_ROWS: usize = 20_000;

/// The form field each column fills (`app::bulk`'s field names), in file order.
const FIELDS: [&str; 18] = [
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
    "retired_on",
    "delete_on",
    "last_declaration_year",
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

/// A cell as written for Excel, back to what it says.
fn unescape(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}

/// A cell Excel must not run as a formula.
fn escape(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    writer_with(Vec::new())
}

/// A writer of CRLF rows into `buffer` (sized by the caller for what it writes).
fn writer_with(buffer: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buffer)
}
