//! Pieces shared by the role and department pages: the permission grid and
//! department paths ("HQ / Sales / East").

use std::collections::{BTreeSet, HashMap};

use minijinja::{context, Value};

use crate::auth::permissions::{is_known, CATALOG};
use crate::form::{Errors, Fields};

/// The grid's rows with `granted` ticked.
pub fn grant_grid(granted: &BTreeSet<String>) -> Vec<Value> {
    CATALOG
        .iter()
        .map(|r| {
            let actions: Vec<Value> = r
                .actions
                .iter()
                .map(|a| {
                    let value = format!("{}:{}", r.key, a);
                    context! {
                        id => format!("grant-{}-{}", r.key.replace('.', "-"), a),
                        label => format!("action.{a}"),
                        checked => granted.contains(&value),
                        value => value,
                    }
                })
                .collect();
            context! { key => r.key, label => format!("perm.{}", r.key), actions => actions }
        })
        .collect()
}

/// The `grant` values of a form; unknown ones are reported under `grant`.
pub fn grants_from(f: &Fields, errors: &mut Errors) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for g in f.all("grant") {
        if is_known(&g) {
            out.insert(g);
        } else {
            errors.add("grant", "perm.unknown");
        }
    }
    out
}

/// Full path of every department, e.g. `HQ / Sales`, by id.
pub fn department_paths(list: &[store::Department]) -> HashMap<i64, String> {
    let by_id: HashMap<i64, &store::Department> = list.iter().map(|d| (d.id, d)).collect();
    list.iter()
        .map(|d| {
            let mut names = vec![d.name.as_str()];
            let mut cur = d.parent_id;
            // Bounded walk: a damaged tree must not loop forever.
            for _ in 0..list.len() {
                let Some(p) = cur.and_then(|id| by_id.get(&id)) else {
                    break;
                };
                names.push(&p.name);
                cur = p.parent_id;
            }
            names.reverse();
            (d.id, names.join(" / "))
        })
        .collect()
}

/// Departments as a nested tree (`children` lists), siblings by name.
pub fn department_tree(list: &[store::Department]) -> Vec<Value> {
    fn build(list: &[store::Department], parent: Option<i64>, depth: usize) -> Vec<Value> {
        if depth > list.len() {
            return Vec::new();
        }
        list.iter()
            .filter(|d| d.parent_id == parent)
            .map(|d| {
                context! {
                    id => d.id, name => d.name.clone(), members => d.members,
                    children => build(list, Some(d.id), depth + 1),
                }
            })
            .collect()
    }
    let ids: BTreeSet<i64> = list.iter().map(|d| d.id).collect();
    // Departments whose parent is missing are shown at the top level.
    let mut top = build(list, None, 0);
    for d in list {
        if d.parent_id.is_some_and(|p| !ids.contains(&p)) {
            top.push(context! { id => d.id, name => d.name.clone(), members => d.members, children => build(list, Some(d.id), 1) });
        }
    }
    top
}
