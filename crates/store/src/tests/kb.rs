//! The knowledge base: categories, articles with validity and similar
//! questions, and the search in Chinese and English, ranked (title before
//! similar question before answer; rarer words first).

use crate::{KbArticleFields, KbSearch, Store, StoreError};

fn article(title: &str, questions: &[&str], body: &str) -> KbArticleFields {
    KbArticleFields {
        title: title.into(),
        questions: questions.iter().map(|q| q.to_string()).collect(),
        body: body.into(),
        ..KbArticleFields::default()
    }
}

async fn search(store: &Store, q: &str) -> Vec<String> {
    let page = store
        .search_kb(&KbSearch {
            q: q.into(),
            limit: 20,
            ..KbSearch::default()
        })
        .await
        .unwrap();
    page.rows.into_iter().map(|a| a.fields.title).collect()
}

async fn a_chinese_question_finds_its_article_first(store: &Store) {
    let cat = store.create_kb_category("产品知识", "").await.unwrap();
    let mut refund = article(
        "如何申请退款",
        &["怎么退钱", "退款要多久"],
        "<p>在订单页面点击<b>申请退款</b>，三个工作日内到账。</p>",
    );
    refund.category_id = Some(cat);
    store.create_kb_article(refund, Some(1)).await.unwrap();
    store
        .create_kb_article(
            article(
                "发票怎么开",
                &["开发票"],
                "<p>联系客服申请开具发票，退款订单不能开票。</p>",
            ),
            Some(1),
        )
        .await
        .unwrap();
    store
        .create_kb_article(
            article(
                "How do I reset my password",
                &["forgot password"],
                "<p>Use the <i>Forgot password</i> link; refunds are not affected.</p>",
            ),
            Some(1),
        )
        .await
        .unwrap();
    store
        .create_kb_article(article("营业时间", &[], "<p>每天九点到六点</p>"), Some(1))
        .await
        .unwrap();

    // Two characters: the usual Chinese word.
    assert_eq!(
        search(store, "退款").await,
        vec!["如何申请退款", "发票怎么开"]
    );
    // A phrase: its pairs; the article with them in its title first.
    assert_eq!(
        search(store, "退款申请").await.first().map(String::as_str),
        Some("如何申请退款")
    );
    // A similar question's words.
    assert_eq!(search(store, "退钱").await, vec!["如何申请退款"]);
    assert_eq!(
        search(store, "开发票").await.first().map(String::as_str),
        Some("发票怎么开")
    );
    // English, with a prefix ("refund" finds "refunds"), any case.
    assert_eq!(
        search(store, "PASSWORD").await,
        vec!["How do I reset my password"]
    );
    assert_eq!(
        search(store, "refund").await,
        vec!["How do I reset my password"]
    );
    // Markup is not searchable text.
    assert!(search(store, "p").await.is_empty());
    assert!(search(store, "!!!").await.is_empty());
    assert!(search(store, "不存在的问题").await.is_empty());
    // A single character finds the pairs it starts.
    assert!(search(store, "退")
        .await
        .contains(&"如何申请退款".to_string()));

    // In a category only.
    let page = store
        .search_kb(&KbSearch {
            q: "退款".into(),
            category_id: Some(cat),
            limit: 20,
            ..KbSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

async fn validity_and_changes_are_honoured_by_the_search(store: &Store) {
    let mut old = article("旧的套餐价格", &[], "<p>已下线</p>");
    old.valid_from = Some(1_000);
    old.valid_to = Some(2_000);
    let old_id = store.create_kb_article(old.clone(), None).await.unwrap();
    let mut hot = article("新的套餐价格", &[], "<p>每月九十九</p>");
    hot.hot = true;
    store.create_kb_article(hot, None).await.unwrap();
    let valid_now = |q: &str| KbSearch {
        q: q.into(),
        valid_at: Some(1_500_000_000_000),
        limit: 20,
        ..KbSearch::default()
    };
    let page = store.search_kb(&valid_now("套餐")).await.unwrap();
    assert_eq!(
        page.rows
            .iter()
            .map(|a| a.fields.title.as_str())
            .collect::<Vec<_>>(),
        vec!["新的套餐价格"]
    );
    // The admin's search sees both; equal scores put the hot one first.
    assert_eq!(
        search(store, "套餐").await,
        vec!["新的套餐价格", "旧的套餐价格"]
    );
    // A changed title is searched by its new words only.
    old.title = "宽带安装".into();
    store.update_kb_article(old_id, old).await.unwrap();
    assert_eq!(search(store, "宽带").await, vec!["宽带安装"]);
    assert_eq!(search(store, "套餐").await, vec!["新的套餐价格"]);
    store.delete_kb_article(old_id).await.unwrap();
    assert!(search(store, "宽带").await.is_empty());
    assert!(store.get_kb_article(old_id).await.unwrap().is_none());
    // The list: hot first.
    let list = store.list_kb_articles(None, 10, 0).await.unwrap();
    assert_eq!(list.total, 1);
}

async fn bad_articles_and_categories_are_refused(store: &Store) {
    let cat = store.create_kb_category("产品", "").await.unwrap();
    assert!(matches!(
        store.create_kb_category("产品", "").await,
        Err(StoreError::CrmNameTaken(..))
    ));
    let mut bad_window = article("x", &[], "");
    bad_window.valid_from = Some(10);
    bad_window.valid_to = Some(5);
    let mut missing_cat = article("y", &[], "");
    missing_cat.category_id = Some(777);
    let rows = vec![
        article("fine", &[], ""),
        article("", &[], "no title"),
        bad_window,
    ];
    match store.create_kb_articles(rows, None).await {
        Err(StoreError::InvalidRows(bad)) => {
            let at: Vec<(usize, &str)> = bad.iter().map(|(i, e)| (*i, e.field)).collect();
            assert_eq!(at, vec![(1, "title"), (2, "valid_to")]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.create_kb_article(missing_cat, None).await,
        Err(StoreError::CrmNotFound("knowledge category", 777))
    ));
    assert_eq!(store.list_kb_articles(None, 10, 0).await.unwrap().total, 0);
    // A category with articles is not deleted.
    let mut a = article("in it", &[], "");
    a.category_id = Some(cat);
    let id = store.create_kb_article(a, None).await.unwrap();
    assert!(matches!(
        store.delete_kb_category(cat).await,
        Err(StoreError::InvalidField(ref e)) if e.field == "category"
    ));
    let cats = store.list_kb_categories().await.unwrap();
    assert_eq!((cats[0].name.as_str(), cats[0].articles), ("产品", 1));
    store.delete_kb_article(id).await.unwrap();
    store.delete_kb_category(cat).await.unwrap();
}

on_every_backend!(
    a_chinese_question_finds_its_article_first,
    validity_and_changes_are_honoured_by_the_search,
    bad_articles_and_categories_are_refused,
);
