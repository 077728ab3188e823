//! 操作ガイド: the product's own help, one page per task of the manual (collect, approve, use,
//! dispose, accounts) and the FAQ's answers, each linking only to screens that exist (for
//! capabilities still to come, the page describes them and names what exists today). The
//! document lists come from `domain::documents`, like every other page that shows them.
//! Served by the home function under `/guide`.

use askama::Template;
use axum::response::Response;

use super::access::{Access, Routes};
use super::render;
use super::session::{Authed, Chrome};

/// Every guide page with its title, in menu order.
pub const PAGES: &[(&str, &str)] = &[
    ("/guide", "操作ガイド"),
    ("/guide/collect", "マイナンバーを集める"),
    ("/guide/approve", "マイナンバーを承認する（本人確認）"),
    ("/guide/use", "マイナンバーを使う"),
    ("/guide/dispose", "マイナンバーを廃棄する"),
    ("/guide/accounts", "ログインユーザと契約"),
    ("/guide/faq", "よくあるご質問"),
];

/// What every guide page shows around its text: its title and the guide's own menu.
struct GuideChrome {
    current: &'static str,
    title: &'static str,
}

impl GuideChrome {
    fn new(current: &'static str) -> GuideChrome {
        GuideChrome {
            current,
            title: PAGES
                .iter()
                .find(|(p, _)| *p == current)
                .map_or("操作ガイド", |(_, t)| t),
        }
    }

    fn pages(&self) -> &'static [(&'static str, &'static str)] {
        PAGES
    }
}

macro_rules! guide_page {
    ($name:ident, $file:literal, $path:literal) => {
        #[derive(Template)]
        #[template(path = $file)]
        struct $name {
            chrome: Chrome,
            guide: GuideChrome,
        }

        impl $name {
            async fn handler(authed: Authed) -> Response {
                let guide = GuideChrome::new($path);
                render(&$name {
                    chrome: Chrome::new(&authed, "/guide"),
                    guide,
                })
            }
        }
    };
}

guide_page!(IndexPage, "guide_index.html", "/guide");
guide_page!(CollectPage, "guide_collect.html", "/guide/collect");
guide_page!(ApprovePage, "guide_approve.html", "/guide/approve");
guide_page!(UsePage, "guide_use.html", "/guide/use");
guide_page!(DisposePage, "guide_dispose.html", "/guide/dispose");
guide_page!(AccountsPage, "guide_accounts.html", "/guide/accounts");
guide_page!(FaqPage, "guide_faq.html", "/guide/faq");

/// The guide is for every logged-in user, whatever the role.
pub fn routes() -> Routes {
    Routes::new()
        .get("/guide", Access::Staff, IndexPage::handler)
        .get("/guide/collect", Access::Staff, CollectPage::handler)
        .get("/guide/approve", Access::Staff, ApprovePage::handler)
        .get("/guide/use", Access::Staff, UsePage::handler)
        .get("/guide/dispose", Access::Staff, DisposePage::handler)
        .get("/guide/accounts", Access::Staff, AccountsPage::handler)
        .get("/guide/faq", Access::Staff, FaqPage::handler)
}
