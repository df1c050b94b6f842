//! The knowledge base (the manual's chapter 7): categories, articles with a
//! validity window, similar questions and a hot flag, and the search over
//! title, similar questions and answer (7.2).
//!
//! The search index is the table `kb_terms`: each article's terms (cut by
//! `callcenter::kb`, Chinese in overlapping pairs) with a weight, a title's
//! term counting most. A search adds up, per article, each matching term's
//! weight times its rarity (BM25's inverse document frequency), so an
//! article holding the rare words of the question in its title comes
//! first. The same tables and SQL on SQLite and PostgreSQL.

use std::collections::HashMap;

use callcenter::crm::{self as fields, FieldError};
use callcenter::kb;
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, CrmPage, Store, StoreError, COUNT_CAP};

/// Weight of a term in the title, in a similar question, in the answer.
const TITLE_WEIGHT: i32 = 10;
const QUESTION_WEIGHT: i32 = 6;
const BODY_WEIGHT: i32 = 1;
/// Most weight one term gets in one article (a word repeated all over an
/// answer does not outrank a title).
const MAX_WEIGHT: i32 = 40;
/// Longest title, in characters.
pub const MAX_KB_TITLE: usize = 200;
/// Longest answer (rich text as HTML), in characters.
pub const MAX_KB_BODY: usize = 100_000;
/// Most similar questions on one article.
pub const MAX_QUESTIONS: usize = 50;

/// A knowledge base category (7.1.1), with how many articles it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbCategory {
    /// Generated id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Articles in it.
    pub articles: i64,
}

/// What a user sets on an article (7.1.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbArticleFields {
    /// Its category.
    pub category_id: Option<i64>,
    /// 标题 (required).
    pub title: String,
    /// 类似问题, one per entry.
    pub questions: Vec<String>,
    /// 回复内容: rich text as sanitised HTML.
    pub body: String,
    /// 有效期 start (unix ms); `None`: always was.
    pub valid_from: Option<i64>,
    /// 有效期 end (unix ms); `None`: never ends.
    pub valid_to: Option<i64>,
    /// 热点问题: listed first.
    pub hot: bool,
}

/// A stored article.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbArticle {
    /// Generated id.
    pub id: i64,
    /// What was set.
    #[serde(flatten)]
    pub fields: KbArticleFields,
    /// Who wrote it.
    pub creator_id: Option<i64>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// A search of the knowledge base.
#[derive(Clone, Debug, Default)]
pub struct KbSearch {
    /// The words, in any language.
    pub q: String,
    /// Only in this category.
    pub category_id: Option<i64>,
    /// Only articles valid at this time (unix ms); `None`: any.
    pub valid_at: Option<i64>,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

fn invalid(e: FieldError) -> StoreError {
    StoreError::InvalidField(e)
}

impl KbArticleFields {
    /// The fields checked and tidied, or the first field at fault.
    pub fn normalized(mut self) -> Result<KbArticleFields, StoreError> {
        self.title = self.title.trim().to_string();
        if self.title.is_empty() {
            return Err(invalid(FieldError {
                field: "title",
                why: "is required".into(),
            }));
        }
        fields::check_len("title", &self.title, MAX_KB_TITLE).map_err(invalid)?;
        fields::check_len("body", &self.body, MAX_KB_BODY).map_err(invalid)?;
        self.questions = kb::similar_questions(&self.questions.join("\n"));
        if self.questions.len() > MAX_QUESTIONS {
            return Err(invalid(FieldError {
                field: "questions",
                why: format!("more than {MAX_QUESTIONS} similar questions"),
            }));
        }
        for q in &self.questions {
            fields::check_len("questions", q, MAX_KB_TITLE).map_err(invalid)?;
        }
        if let (Some(a), Some(b)) = (self.valid_from, self.valid_to) {
            if b < a {
                return Err(invalid(FieldError {
                    field: "valid_to",
                    why: "is before the start of validity".into(),
                }));
            }
        }
        Ok(self)
    }

    /// The article's index: each term with its weight.
    fn terms(&self) -> HashMap<String, i32> {
        let mut out: HashMap<String, i32> = HashMap::new();
        let mut add = |text: &str, w: i32| {
            for t in kb::terms(text) {
                let e = out.entry(t).or_default();
                *e = (*e + w).min(MAX_WEIGHT);
            }
        };
        add(&self.title, TITLE_WEIGHT);
        for q in &self.questions {
            add(q, QUESTION_WEIGHT);
        }
        add(&kb::plain_text(&self.body), BODY_WEIGHT);
        out
    }
}

impl Store {
    /// Creates a knowledge base category; its name must be new.
    pub async fn create_kb_category(
        &self,
        name: &str,
        description: &str,
    ) -> Result<i64, StoreError> {
        dispatch!(self, db => db.save_kb_category(None, name, description))
    }

    /// Renames and redescribes category `id`.
    pub async fn update_kb_category(
        &self,
        id: i64,
        name: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.save_kb_category(Some(id), name, description)).map(|_| ())
    }

    /// Every category by name, with its article count.
    pub async fn list_kb_categories(&self) -> Result<Vec<KbCategory>, StoreError> {
        dispatch!(self, db => db.list_kb_categories())
    }

    /// Deletes an empty category (one that holds articles is refused).
    pub async fn delete_kb_category(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_kb_category(id))
    }

    /// Creates an article and indexes it.
    pub async fn create_kb_article(
        &self,
        fields: KbArticleFields,
        creator: Option<i64>,
    ) -> Result<i64, StoreError> {
        // One article's fault is its field's, not a batch's row.
        let fields = fields.normalized()?;
        let ids = self.create_kb_articles(vec![fields], creator).await?;
        ids.first().copied().ok_or(StoreError::Database {
            context: "creating an article",
            source: sqlx::Error::RowNotFound,
        })
    }

    /// Creates articles in one transaction: all or none. Every row at fault
    /// is reported ([`StoreError::InvalidRows`], by index from 0).
    pub async fn create_kb_articles(
        &self,
        rows: Vec<KbArticleFields>,
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let good = crate::crm::checked_rows(rows, KbArticleFields::normalized)?;
        let good = &good;
        dispatch!(self, db => db.create_kb_articles(good, creator))
    }

    /// Changes article `id` and its index.
    pub async fn update_kb_article(
        &self,
        id: i64,
        fields: KbArticleFields,
    ) -> Result<(), StoreError> {
        let fields = fields.normalized()?;
        let f = &fields;
        dispatch!(self, db => db.update_kb_article(id, f))
    }

    /// Deletes article `id` and its index.
    pub async fn delete_kb_article(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_kb_article(id))
    }

    /// Article `id`.
    pub async fn get_kb_article(&self, id: i64) -> Result<Option<KbArticle>, StoreError> {
        dispatch!(self, db => db.get_kb_article(id))
    }

    /// A page of a category's articles (or all), hot ones first, then the
    /// newest change.
    pub async fn list_kb_articles(
        &self,
        category: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<CrmPage<KbArticle>, StoreError> {
        dispatch!(self, db => db.list_kb_articles(category, limit, offset))
    }

    /// The articles matching a search, best first (see the module's
    /// comment); words that are no terms (punctuation only) match nothing.
    pub async fn search_kb(&self, s: &KbSearch) -> Result<CrmPage<KbArticle>, StoreError> {
        dispatch!(self, db => db.search_kb(s))
    }
}

const ARTICLE_COLUMNS: &str = "id, category_id, title, questions, body, valid_from, valid_to, \
     hot, creator_id, created_at, updated_at";

impl<DB: Backend> Db<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    bool: Value<DB>,
    i32: Value<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Ts: Value<DB>,
    DB::QueryResult: RowsAffected,
{
    pub(crate) async fn save_kb_category(
        &self,
        id: Option<i64>,
        name: &str,
        description: &str,
    ) -> Result<i64, StoreError> {
        const CONTEXT: &str = "saving a knowledge category";
        let name = name.trim();
        fields::check_name("name", name).map_err(invalid)?;
        fields::check_len("description", description, fields::MAX_TEXT).map_err(invalid)?;
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM kb_categories WHERE name = $1 AND id <> $2")
                .bind(name)
                .bind(id.unwrap_or(0))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        if taken.is_some() {
            return Err(StoreError::CrmNameTaken(
                "knowledge category",
                name.to_string(),
            ));
        }
        let id = match id {
            Some(id) => {
                let done = sqlx::query(
                    "UPDATE kb_categories SET name = $1, description = $2 WHERE id = $3",
                )
                .bind(name)
                .bind(description)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::CrmNotFound("knowledge category", id));
                }
                id
            }
            None => sqlx::query_scalar(
                "INSERT INTO kb_categories (name, description, created_at) VALUES ($1, $2, $3) \
                 RETURNING id",
            )
            .bind(name)
            .bind(description)
            .bind(Ts(db::now_ms()))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?,
        };
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(id)
    }

    pub(crate) async fn list_kb_categories(&self) -> Result<Vec<KbCategory>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.description, \
             (SELECT COUNT(*) FROM kb_articles a WHERE a.category_id = c.id) AS articles \
             FROM kb_categories c ORDER BY c.name, c.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing knowledge categories"))?;
        rows.iter()
            .map(|r| -> Result<KbCategory, sqlx::Error> {
                Ok(KbCategory {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    articles: r.try_get("articles")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing knowledge categories"))
    }

    pub(crate) async fn delete_kb_category(&self, id: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "deleting a knowledge category";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kb_articles WHERE category_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        if held > 0 {
            return Err(invalid(FieldError {
                field: "category",
                why: format!("holds {held} articles: move or delete them first"),
            }));
        }
        let gone = sqlx::query("DELETE FROM kb_categories WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("knowledge category", id));
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    async fn check_kb_category(
        tx: &mut crate::db::Tx<DB>,
        id: Option<i64>,
    ) -> Result<(), StoreError> {
        let Some(id) = id else { return Ok(()) };
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM kb_categories WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("checking a knowledge category"))?;
        found
            .map(|_| ())
            .ok_or(StoreError::CrmNotFound("knowledge category", id))
    }

    async fn index_article(
        tx: &mut crate::db::Tx<DB>,
        id: i64,
        f: &KbArticleFields,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "indexing an article";
        sqlx::query("DELETE FROM kb_terms WHERE article_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db_err(CONTEXT))?;
        let terms: Vec<(String, i32)> = f.terms().into_iter().collect();
        // Many rows per statement (3 parameters each, well under both
        // backends' limits).
        for chunk in terms.chunks(300) {
            let mut qb =
                sqlx::QueryBuilder::<DB>::new("INSERT INTO kb_terms (term, article_id, weight) ");
            qb.push_values(chunk, |mut b, (term, weight)| {
                b.push_bind(term.clone()).push_bind(id).push_bind(*weight);
            });
            qb.build()
                .execute(&mut **tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        Ok(())
    }

    pub(crate) async fn create_kb_articles(
        &self,
        rows: &[KbArticleFields],
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        const CONTEXT: &str = "creating articles";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let mut checked = std::collections::HashSet::new();
        for f in rows {
            if let Some(c) = f.category_id {
                if checked.insert(c) {
                    Self::check_kb_category(&mut tx, Some(c)).await?;
                }
            }
        }
        let now = db::now_ms();
        let mut ids = Vec::with_capacity(rows.len());
        for f in rows {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO kb_articles (category_id, title, questions, body, valid_from, \
                 valid_to, hot, creator_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(Self::opt(f.category_id))
            .bind(&f.title)
            .bind(f.questions.join("\n"))
            .bind(&f.body)
            .bind(Self::opt(f.valid_from.map(Ts)))
            .bind(Self::opt(f.valid_to.map(Ts)))
            .bind(f.hot)
            .bind(Self::opt(creator))
            .bind(Ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
            Self::index_article(&mut tx, id, f).await?;
            ids.push(id);
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(ids)
    }

    pub(crate) async fn update_kb_article(
        &self,
        id: i64,
        f: &KbArticleFields,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "changing an article";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        Self::check_kb_category(&mut tx, f.category_id).await?;
        let done = sqlx::query(
            "UPDATE kb_articles SET category_id = $1, title = $2, questions = $3, body = $4, \
             valid_from = $5, valid_to = $6, hot = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(Self::opt(f.category_id))
        .bind(&f.title)
        .bind(f.questions.join("\n"))
        .bind(&f.body)
        .bind(Self::opt(f.valid_from.map(Ts)))
        .bind(Self::opt(f.valid_to.map(Ts)))
        .bind(f.hot)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("article", id));
        }
        Self::index_article(&mut tx, id, f).await?;
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn delete_kb_article(&self, id: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "deleting an article";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let gone = sqlx::query("DELETE FROM kb_articles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("article", id));
        }
        sqlx::query("DELETE FROM kb_terms WHERE article_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    fn article_of(r: &DB::Row) -> Result<KbArticle, sqlx::Error> {
        let questions: String = r.try_get("questions")?;
        Ok(KbArticle {
            id: r.try_get("id")?,
            fields: KbArticleFields {
                category_id: r.try_get("category_id")?,
                title: r.try_get("title")?,
                questions: questions
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                body: r.try_get("body")?,
                valid_from: r.try_get::<Option<Ts>, _>("valid_from")?.map(|t| t.0),
                valid_to: r.try_get::<Option<Ts>, _>("valid_to")?.map(|t| t.0),
                hot: r.try_get("hot")?,
            },
            creator_id: r.try_get("creator_id")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    pub(crate) async fn get_kb_article(&self, id: i64) -> Result<Option<KbArticle>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an article"))?;
        row.as_ref()
            .map(Self::article_of)
            .transpose()
            .map_err(db_err("reading an article"))
    }

    pub(crate) async fn list_kb_articles(
        &self,
        category: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<CrmPage<KbArticle>, StoreError> {
        const CONTEXT: &str = "listing articles";
        let filter = match category {
            Some(_) => "category_id = $1",
            None => "$1 = $1",
        };
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM kb_articles WHERE {filter} LIMIT {}) AS capped",
            COUNT_CAP + 1
        )))
        .bind(category.unwrap_or(0))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM kb_articles WHERE {filter} \
             ORDER BY hot DESC, updated_at DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(category.unwrap_or(0))
        .bind(limit.clamp(1, 500))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = rows
            .iter()
            .map(Self::article_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CONTEXT))?;
        Ok(CrmPage {
            rows,
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
        })
    }

    pub(crate) async fn search_kb(&self, s: &KbSearch) -> Result<CrmPage<KbArticle>, StoreError> {
        const CONTEXT: &str = "searching the knowledge base";
        let terms = kb::query_terms(&s.q);
        if terms.is_empty() {
            return Ok(CrmPage {
                rows: Vec::new(),
                total: 0,
                more: false,
            });
        }
        // Each term's condition on kb_terms, its parameters numbered from
        // $1 (two per term: the term and, for a prefix, its upper bound).
        let term_sql = |i: usize, prefix: bool| {
            if prefix {
                format!("term >= ${} AND term < ${}", 2 * i + 1, 2 * i + 2)
            } else {
                format!("term = ${} AND ${} = ${}", 2 * i + 1, 2 * i + 2, 2 * i + 2)
            }
        };
        // How many articles there are, and hold each term: its rarity.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kb_articles")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        let upper = |t: &kb::QueryTerm| format!("{}\u{10FFFF}", t.text);
        let mut kept = Vec::with_capacity(terms.len());
        let mut dfs = Vec::with_capacity(terms.len());
        for t in &terms {
            let sql = format!(
                "SELECT COUNT(DISTINCT article_id) FROM kb_terms WHERE {}",
                term_sql(0, t.prefix)
            );
            let df: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(t.text.clone())
                .bind(upper(t))
                .fetch_one(&self.pool)
                .await
                .map_err(db_err(CONTEXT))?;
            if df == 0 {
                continue;
            }
            let (n, df) = (n as f64, df as f64);
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            // Integer points (rarity x 1000) keep the sum an integer on both
            // backends.
            kept.push((t, ((idf * 1000.0).round() as i64).max(1)));
            dfs.push(df as i64);
        }
        if kept.is_empty() {
            return Ok(CrmPage {
                rows: Vec::new(),
                total: 0,
                more: false,
            });
        }
        // Terms in more than half of the articles ("如何", "办理", "how")
        // find nearly everything and add little to a score; when the query
        // has rarer terms, those alone choose and rank the articles (as a
        // search engine's common-terms query does), so a long question
        // reads a few postings lists, not the whole index.
        let rare: Vec<(&kb::QueryTerm, i64)> = kept
            .iter()
            .zip(&dfs)
            .filter(|(_, df)| **df * 2 <= n)
            .map(|(k, _)| *k)
            .collect();
        if !rare.is_empty() {
            kept = rare;
        }
        let parts: Vec<String> = kept
            .iter()
            .enumerate()
            .map(|(i, (t, points))| {
                format!(
                    "SELECT article_id, weight * {points} AS points FROM kb_terms WHERE {}",
                    term_sql(i, t.prefix)
                )
            })
            .collect();
        let base = 2 * kept.len();
        let mut cond = vec!["1 = 1".to_string()];
        cond.push(match s.category_id {
            Some(_) => format!("a.category_id = ${}", base + 1),
            None => format!("${0} = ${0}", base + 1),
        });
        cond.push(match s.valid_at {
            Some(_) => format!(
                "(a.valid_from IS NULL OR a.valid_from <= ${0}) \
                 AND (a.valid_to IS NULL OR a.valid_to >= ${0})",
                base + 2
            ),
            None => format!("${0} = ${0}", base + 2),
        });
        let filter = cond.join(" AND ");
        let matches = format!(
            "(SELECT article_id, SUM(points) AS score FROM ({}) AS m GROUP BY article_id) AS s \
             JOIN kb_articles a ON a.id = s.article_id",
            parts.join(" UNION ALL ")
        );
        let columns: Vec<String> = ARTICLE_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect();
        // The page and the number of matches in one pass over the postings.
        let list_sql = format!(
            "SELECT {}, COUNT(*) OVER () AS found FROM {matches} WHERE {filter} \
             ORDER BY s.score DESC, a.hot DESC, a.updated_at DESC, a.id DESC \
             LIMIT ${} OFFSET ${}",
            columns.join(", "),
            base + 3,
            base + 4
        );
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for (t, _) in &kept {
            list = list.bind(t.text.clone()).bind(upper(t));
        }
        let rows = list
            .bind(s.category_id.unwrap_or(0))
            .bind(Ts(s.valid_at.unwrap_or(0)))
            .bind(s.limit.clamp(1, 500))
            .bind(s.offset.max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        let total: i64 = match rows.first() {
            Some(r) => r.try_get("found").map_err(db_err(CONTEXT))?,
            None if s.offset <= 0 => 0,
            None => {
                // A page past the end: count the matches alone.
                let count_sql = format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {matches} WHERE {filter} LIMIT {}) AS capped",
                    COUNT_CAP + 1
                );
                let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
                for (t, _) in &kept {
                    count = count.bind(t.text.clone()).bind(upper(t));
                }
                count
                    .bind(s.category_id.unwrap_or(0))
                    .bind(Ts(s.valid_at.unwrap_or(0)))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err(CONTEXT))?
            }
        };
        let rows = rows
            .iter()
            .map(Self::article_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CONTEXT))?;
        Ok(CrmPage {
            rows,
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
        })
    }
}
