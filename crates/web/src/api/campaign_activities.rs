//! `/api/campaigns/activities`: outbound activities (issue 18; the
//! manual's 8.1.3 活动管理). An activity names a filter form, a kind
//! (preview, predictive, robot), how many rows to extract and to whom to
//! allocate them; `POST …/{id}/start` allocates once (each start is a
//! filter run, the activity's dial task of 8.2.3), `…/pause` and `…/stop`
//! change its state, `…/recall` takes back rows nobody has dialed. An
//! activity is visible to the users who see its filter's batch.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use store::{Activity, ActivityFields};

use super::body_json;
use super::campaigns::{batch_scope, visible_batch, visible_filter};
use super::crm::{merged, not_found, refused};
use crate::auth::Identity;
use crate::state::AppState;
use crate::view::{api_error, json};

/// The activity `id` if the caller sees its batch.
async fn visible_activity(state: &AppState, who: &Identity, id: i64) -> Result<Activity, Response> {
    match state.store().get_activity(id).await {
        Ok(Some(a)) => match visible_batch(state, who, a.batch_id).await {
            Ok(_) => Ok(a),
            Err(_) => Err(not_found("activity", id)),
        },
        Ok(None) => Err(not_found("activity", id)),
        Err(e) => Err(refused(e)),
    }
}

/// Checks the caller sees the filter and that every target exists: the
/// answer that says otherwise, naming the field.
async fn check_activity(
    state: &AppState,
    who: &Identity,
    f: &ActivityFields,
) -> Result<(), Response> {
    if visible_filter(state, who, f.filter_id).await.is_err() {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            &format!("filter {} does not exist", f.filter_id),
            Some("filter_id"),
        ));
    }
    let store = state.store();
    for (i, t) in f.targets.iter().enumerate() {
        let exists = match t.kind.as_str() {
            "agent" | "robot" => store.get_extension(t.id.trim()).await.map(|e| e.is_some()),
            "queue" => store.get_queue(t.id.trim()).await.map(|q| q.is_some()),
            "department" => match t.id.trim().parse::<i64>() {
                Ok(d) => store.get_department(d).await.map(|d| d.is_some()),
                Err(_) => Ok(false),
            },
            // The kind itself is checked by the store, naming it.
            _ => Ok(true),
        };
        match exists {
            Ok(true) => {}
            Ok(false) => {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    &format!("targets[{i}]: no {} '{}'", t.kind, t.id),
                    Some("targets"),
                ))
            }
            Err(e) => return Err(refused(e)),
        }
    }
    Ok(())
}

/// The body as activity fields over `base`.
fn activity_body(base: &ActivityFields, body: &str) -> Result<ActivityFields, Box<Response>> {
    let v = body_json(body)?;
    if !v.is_object() {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
            None,
        )));
    }
    merged(base, &v.to_string())
}

/// `GET /api/campaigns/activities`: the activities on the caller's
/// batches, newest first.
#[utoipa::path(get, path = "/api/campaigns/activities", tag = "campaigns", responses((status = 200, description = "{activities: [{id, name, kind, filter_id, batch_id, business_type, business_status, extract_count, default_count, share_pct, targets, settings, description, state, created_at, started_at}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn list_activities(who: Identity, State(state): State<AppState>) -> Response {
    let scope = match batch_scope(&state, &who).await {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    match state.store().list_activities(&scope).await {
        Ok(a) => json(StatusCode::OK, &json!({ "activities": a })),
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/activities`: a new activity (state draft).
#[utoipa::path(post, path = "/api/campaigns/activities", tag = "campaigns", request_body(content = serde_json::Value, description = "{name, kind (preview, predictive, robot), filter_id, business_type, business_status, extract_count (抽取数量), default_count (默认分配数), share_pct (名单分配, 1-100), targets: [{kind (preview: agent or department; predictive: queue; robot: robot), id (extension, department id, queue name), count (optional: default_count)}], settings (object), description}", content_type = "application/json"), responses((status = 200, description = "the activity", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn create_activity(
    who: Identity,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let f = match activity_body(&ActivityFields::default(), &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = check_activity(&state, &who, &f).await {
        return r;
    }
    match state.store().create_activity(f, Some(who.user.id)).await {
        Ok(id) => match state.store().get_activity(id).await {
            Ok(Some(a)) => json(StatusCode::OK, &a),
            Ok(None) => not_found("activity", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// `GET /api/campaigns/activities/{id}`: one activity.
#[utoipa::path(get, path = "/api/campaigns/activities/{id}", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "the activity", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn get_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    match visible_activity(&state, &who, id).await {
        Ok(a) => json(StatusCode::OK, &a),
        Err(r) => r,
    }
}

/// `PUT /api/campaigns/activities/{id}`: changes what the body gives
/// (its kind and filter only until its first start).
#[utoipa::path(put, path = "/api/campaigns/activities/{id}", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), request_body(content = serde_json::Value, description = "any of the fields of POST", content_type = "application/json"), responses((status = 200, description = "the activity as saved", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn update_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let current = match visible_activity(&state, &who, id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let f = match activity_body(&current.fields, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = check_activity(&state, &who, &f).await {
        return r;
    }
    match state.store().update_activity(id, f).await {
        Ok(()) => get_activity(who, State(state), Path(id)).await,
        Err(e) => refused(e),
    }
}

/// `DELETE /api/campaigns/activities/{id}`: refused while it runs; the
/// rows it holds undialed go back to the pool.
#[utoipa::path(delete, path = "/api/campaigns/activities/{id}", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "{deleted: id, freed: rows back in the pool}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn delete_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_activity(&state, &who, id).await {
        return r;
    }
    match state.store().delete_activity(id).await {
        Ok(n) => json(StatusCode::OK, &json!({ "deleted": id, "freed": n })),
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/activities/{id}/start` (启动活动): extracts and
/// allocates once, records the run, and sets the activity running.
#[utoipa::path(post, path = "/api/campaigns/activities/{id}/start", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "{run_id, extracted, allocated: [rows per target, in order], unassigned, activity}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn start_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = visible_activity(&state, &who, id).await {
        return r;
    }
    let done = match state.store().start_activity(id).await {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    let activity = state.store().get_activity(id).await.ok().flatten();
    let mut v = serde_json::to_value(&done).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("activity".into(), json!(activity));
    }
    json(StatusCode::OK, &v)
}

/// Sets activity `id`'s state for the caller.
async fn set_state(state: &AppState, who: &Identity, id: i64, to: &str) -> Response {
    if let Err(r) = visible_activity(state, who, id).await {
        return r;
    }
    match state.store().set_activity_state(id, to).await {
        Ok(()) => match state.store().get_activity(id).await {
            Ok(Some(a)) => json(StatusCode::OK, &a),
            Ok(None) => not_found("activity", id),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

/// `POST /api/campaigns/activities/{id}/pause`: no new calls; rows stay
/// with their targets.
#[utoipa::path(post, path = "/api/campaigns/activities/{id}/pause", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "the activity", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn pause_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    set_state(&state, &who, id, "paused").await
}

/// `POST /api/campaigns/activities/{id}/stop`: ends the activity (calls
/// in progress are not dropped); it can then be deleted.
#[utoipa::path(post, path = "/api/campaigns/activities/{id}/stop", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "the activity", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn stop_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    set_state(&state, &who, id, "stopped").await
}

/// `POST /api/campaigns/activities/{id}/recall` (回收): takes back the rows
/// nobody has dialed, of every target or of the one the body names.
#[utoipa::path(post, path = "/api/campaigns/activities/{id}/recall", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), request_body(content = serde_json::Value, description = "{} for every target, or {kind, assignee} for one", content_type = "application/json"), responses((status = 200, description = "{recalled: rows}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn recall_activity(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if let Err(r) = visible_activity(&state, &who, id).await {
        return r;
    }
    let v = if body.trim().is_empty() {
        json!({})
    } else {
        match body_json(&body) {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
    let kind = v["kind"].as_str().unwrap_or_default();
    let assignee = v["assignee"].as_str().unwrap_or_default();
    if kind.is_empty() != assignee.is_empty() {
        let field = if kind.is_empty() { "kind" } else { "assignee" };
        return api_error(
            StatusCode::BAD_REQUEST,
            "give both kind and assignee to recall one target's rows, or neither",
            Some(field),
        );
    }
    let target = (!kind.is_empty()).then_some((kind, assignee));
    match state.store().recall_activity_rows(id, target).await {
        Ok(n) => json(StatusCode::OK, &json!({ "recalled": n })),
        Err(e) => refused(e),
    }
}

/// `GET /api/campaigns/activities/{id}/runs`: its dial tasks (8.2.3),
/// newest first, each named `<activity>_<time>`.
#[utoipa::path(get, path = "/api/campaigns/activities/{id}/runs", tag = "campaigns", params(("id" = i64, Path, description = "activity id")), responses((status = 200, description = "{runs: [{id, name, task, matched, to_agents, to_departments, to_robots, to_queues, unassigned, recalled, created_at}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn activity_runs(
    who: Identity,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let a = match visible_activity(&state, &who, id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match state.store().activity_runs(id).await {
        Ok(runs) => {
            let runs: Vec<Value> = runs
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                    // The dial task's name: the run's time after the
                    // activity's name (the run's own name is the filter's).
                    let stamp = r.name.rsplit_once('_').map(|(_, t)| t).unwrap_or_default();
                    if let Value::Object(o) = &mut v {
                        o.insert("task".into(), json!(format!("{}_{stamp}", a.fields.name)));
                    }
                    v
                })
                .collect();
            json(StatusCode::OK, &json!({ "runs": runs }))
        }
        Err(e) => refused(e),
    }
}
