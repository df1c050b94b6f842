//! The OpenAPI document of the JSON API, served at `GET /api/openapi.json`.
//!
//! Every route is registered through utoipa-axum's `routes!`, which takes
//! the path and method from the handler's `#[utoipa::path]` annotation, so
//! a route cannot exist without its documentation (or the other way round).
//! [`guard`] mounts a group behind its permission and writes that
//! permission into each operation's description, so the document says what
//! the server enforces.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::permissions::Permission;
use crate::state::AppState;

/// The name of the bearer-token security scheme in the document.
const BEARER: &str = "api_token";

/// An error as every API route returns it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What is wrong, in the request's language where it concerns input.
    pub error: String,
    /// The input field at fault, if one is.
    pub field: Option<String>,
    /// Every field at fault with its message (form-like inputs only).
    pub errors: Option<std::collections::BTreeMap<String, String>>,
}

/// The error answers every route can give.
#[derive(utoipa::IntoResponses)]
pub enum Errors {
    /// The input is wrong; `field` names the field at fault.
    #[response(status = 400)]
    BadRequest(#[to_schema] ApiError),
    /// No valid API token or session.
    #[response(status = 401)]
    Unauthorized(ApiError),
    /// The token's user lacks the permission named in the description.
    #[response(status = 403)]
    Forbidden(ApiError),
    /// No such record (or list, queue, file...).
    #[response(status = 404)]
    NotFound(ApiError),
    /// The change conflicts with the current state (e.g. a file in use).
    #[response(status = 409)]
    Conflict(ApiError),
    /// The telephony engine is not running in this process.
    #[response(status = 503)]
    Unavailable(ApiError),
}

/// `routes` behind permission `p`: the check runs before every handler,
/// and each operation's description names the permission.
pub fn guard(p: Permission, routes: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    let mut routes = routes.route_layer(axum::middleware::from_fn(
        move |req: Request, next: Next| crate::auth::check(p, req, next),
    ));
    let note = format!("Requires permission `{}`.", p.key());
    for item in routes.get_openapi_mut().paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                _ => note.clone(),
            });
        }
    }
    routes
}

/// Completes the document collected from the routes: title, version,
/// the bearer-token scheme, required on every operation.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Switchboard API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "The JSON API of Switchboard. Authenticate with a per-user API token \
         (create one under Account → API tokens) in `Authorization: Bearer <token>`, \
         or with a signed-in session. Each operation checks the same permission as \
         the page that does the same thing. Errors are JSON: `{\"error\": \"...\", \
         \"field\": \"...\"}`."
            .into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
    doc
}

/// The document as JSON, made once at start.
#[derive(Clone)]
pub struct Document(pub std::sync::Arc<String>);

/// `GET /api/openapi.json`: open like `/metrics` (it holds no data).
pub async fn serve(State(doc): State<Document>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_owned(),
    )
        .into_response()
}
