//! CSVアップロード under generated files, through the real router and store (proptest: an
//! upload is too slow for a byte fuzzer, whose target `csv_import` covers the reader alone).
//! Whatever the file, the answer is a page (never a server error), and a refused file leaves
//! nothing behind: no registrant, no staged import.

use std::cell::RefCell;

use axum::http::StatusCode;
use myna::app::registrants::{self as regs, Filter};
use myna::ports::Query;
use myna_tests::fixtures::valid_number;
use myna_tests::{Browser, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const OWNER: &str = "fuzzcsv@example.jp";

const HEADER: &str = "種別,社員コード,属性,氏名（姓）,氏名（名）,フリガナ（セイ）,フリガナ（メイ）,生年月日,性別,マイナンバー,続柄,入社日,メールアドレス,グループ,備考";

/// A good file: `n` registrants, each with one dependent.
fn good_file(n: u64) -> String {
    let mut lines = vec![HEADER.to_string()];
    for i in 0..n {
        lines.push(format!(
            "登録者,P{i:03},従業員1,社員,{i},シャイン,イチ,1980/1/1,男性,{},,2020/4/1,,,",
            valid_number(7000 + i)
        ));
        lines.push(format!(
            "扶養家族,,扶養者,社員,子{i},,,H22/4/1,女性,{},子,,,,",
            valid_number(8000 + i)
        ));
    }
    lines.join("\r\n") + "\r\n"
}

/// What is done to a good file before it is uploaded.
#[derive(Debug, Clone)]
enum Mutation {
    /// Bytes inserted at a position (any bytes: broken UTF-8, quotes, commas, line breaks).
    Insert(usize, Vec<u8>),
    /// The file cut after a position.
    Cut(usize),
    /// One cell of one data row replaced by a value that is always wrong there.
    BadCell(usize, usize, &'static str),
    /// The file in CP932 with a byte flipped.
    Flip(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Cut),
        (
            any::<usize>(),
            any::<usize>(),
            prop::sample::select(vec![
                "不明な種別",
                "1980/13/45",
                "S65/1/1",
                "12345678901x",
                "\"",
                "\u{E000}"
            ]),
        )
            .prop_map(|(row, col, v)| Mutation::BadCell(row, col, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
    ]
}

/// The file after `m`, and whether it must be refused.
fn apply(good: &str, m: &Mutation) -> (Vec<u8>, bool) {
    let bytes = good.as_bytes();
    match m {
        Mutation::Insert(at, extra) => {
            let at = at % (bytes.len() + 1);
            let mut out = bytes[..at].to_vec();
            out.extend_from_slice(extra);
            out.extend_from_slice(&bytes[at..]);
            (out, false)
        }
        Mutation::Cut(at) => (bytes[..at % (bytes.len() + 1)].to_vec(), false),
        Mutation::BadCell(row, col, value) => {
            let mut lines: Vec<Vec<String>> = good
                .lines()
                .map(|l| l.split(',').map(str::to_string).collect())
                .collect();
            let row = 1 + row % (lines.len() - 1);
            // 種別, 生年月日 or マイナンバー: the columns a wrong value always fails.
            let col = [0, 7, 9][col % 3];
            lines[row][col] = (*value).to_string();
            let text: Vec<String> = lines.iter().map(|l| l.join(",")).collect();
            (text.join("\r\n").into_bytes(), true)
        }
        Mutation::Flip(at, byte) => {
            let mut out = myna::app::csv_io::encode_cp932(good).unwrap_or_default();
            let at = at % out.len().max(1);
            if let Some(b) = out.get_mut(at) {
                *b ^= byte | 1;
            }
            (out, false)
        }
    }
}

/// The account's imports, whatever their state.
async fn imports(t: &TestApp) -> usize {
    let scope = t.scope_of(OWNER).await;
    let query = Query::partition(scope.pk()).prefix("IMPORT#").limit(1000);
    scope.query(&query).await.unwrap().items.len()
}

async fn upload_leaves_nothing_when_refused(
    t: &TestApp,
    b: &mut Browser,
    file: &[u8],
    must_refuse: bool,
) -> Result<(), TestCaseError> {
    let page = "/registrants/csv-upload";
    let before = imports(t).await;
    let answer = b.upload(page, page, file, true).await;
    prop_assert!(
        !answer.status.is_server_error(),
        "server error {}",
        answer.status
    );
    let staged = answer.status == StatusCode::OK && answer.body.contains("/commit\"");
    prop_assert!(
        !(must_refuse && staged),
        "a file with a bad cell was staged"
    );
    if staged {
        // Staged, never committed (キャンセル): the next case starts from nothing again.
        let prefix = "/registrants/csv-upload/";
        if let Some(at) = answer.body.find(prefix) {
            let id: String = answer.body[at + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            b.submit(page, &format!("{prefix}{id}/discard"), &[]).await;
        }
    } else {
        prop_assert_eq!(imports(t).await, before, "a refused file was staged");
    }
    let scope = t.scope_of(OWNER).await;
    let registrants = regs::select(&scope, &Filter::default()).await.unwrap().0;
    prop_assert!(
        registrants.is_empty(),
        "an upload imported rows without 登録"
    );
    Ok(())
}

#[test]
fn csv_upload_imports_nothing_when_a_generated_file_is_refused() {
    // GIVEN one account, a good file, and files made from it by a random mutation
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (t, b) = rt.block_on(TestApp::with_owner("株式会社ファズ", OWNER));
    let b = RefCell::new(b);
    let good = good_file(3);
    let mut runner = TestRunner::new(Config {
        cases: 100,
        failure_persistence: None,
        ..Config::default()
    });
    // WHEN each is uploaded THEN a refused one leaves no registrant and no staged import
    let result = runner.run(&mutation(), |m| {
        let (file, must_refuse) = apply(&good, &m);
        let mut b = b.borrow_mut();
        rt.block_on(upload_leaves_nothing_when_refused(
            &t,
            &mut b,
            &file,
            must_refuse,
        ))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
