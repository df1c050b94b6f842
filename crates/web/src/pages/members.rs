//! What the role and department pages share about members (the manual's
//! 3.1.2 and 3.1.3: "添加用户到角色" / "添加用户到部门"): the users who are
//! members, the enabled users who could be added, and reading the chosen
//! users of the add form (or of the API's `{"users": [...]}`).

use minijinja::{context, Value};

use crate::form::Fields;
use crate::state::AppState;

/// The members (as the page shows them) and the enabled users who are not
/// members yet, ordered by username.
pub(crate) async fn panel(
    state: &AppState,
    members: Vec<store::User>,
) -> Result<(Vec<Value>, Vec<Value>), store::StoreError> {
    let candidates = state
        .store()
        .all_users()
        .await?
        .into_iter()
        .filter(|u| u.enabled && !members.iter().any(|m| m.id == u.id))
        .map(|u| context! { id => u.id, username => u.username, name => u.name })
        .collect();
    let members = members
        .into_iter()
        .map(|u| {
            context! {
                id => u.id, username => u.username, name => u.name,
                email => u.email, mobile => u.mobile, enabled => u.enabled,
            }
        })
        .collect();
    Ok((members, candidates))
}

/// The user ids chosen in field `name` (repeated). Err: the message key
/// for that field (none chosen, or a value that is not an id).
pub(crate) fn chosen(f: &Fields, name: &str) -> Result<Vec<i64>, &'static str> {
    match f.ids(name) {
        Ok(ids) if ids.is_empty() => Err("members.none_chosen"),
        Ok(ids) => Ok(ids),
        Err(_) => Err("form.invalid_choice"),
    }
}
