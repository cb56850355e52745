//! The live status page at `/`: a login form until the browser holds a
//! session ([`super::session`]), then a page whose script polls the admin
//! API's JSON routes (with the session cookie) every two seconds and redraws
//! itself. Everything it needs is in the binary (`status_page/`): no CDN, no
//! inline script or style, so the Content-Security-Policy allows only this
//! origin's files.
//!
//! Disabled (403) while `http.admin_token` is unset, like the admin API.
//! The token is only ever read from a POSTed form, never from the URL, and
//! never logged.

use super::auth::constant_time_eq;
use super::body::{BodyError, read_within};
use super::session;
use crate::context::Ctx;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DASHBOARD: &str = include_str!("status_page/dashboard.html");
const LOGIN: &str = include_str!("status_page/login.html");
const DISABLED: &str = include_str!("status_page/disabled.html");
const SCRIPT: &str = include_str!("status_page/page.js");
const STYLE: &str = include_str!("status_page/page.css");

/// Where `LOGIN` shows why the last try failed.
const LOGIN_MESSAGE: &str = "<!--message-->";

/// A login form is a few bytes; nothing bigger is read.
const MAX_LOGIN_BYTES: usize = 4096;

/// Only this origin's files, no inline code, no framing, forms post here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(script))
        .routes(routes!(style))
}

/// The status page, or its login form.
///
/// With a valid session cookie, the live status page (its script reads the
/// admin API's JSON routes); without one, a form that asks for the admin
/// token once (`POST /login`).
#[utoipa::path(get, path = "/", tag = "status page", responses(
    (status = 200, description = "The status page, or the login form when the browser has no valid session",
        body = String, content_type = "text/html"),
    (status = 403, description = "Disabled: no `http.admin_token` is configured", body = String,
        content_type = "text/html"),
))]
async fn page(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let Some(token) = &ctx.settings.http.admin_token else { return disabled() };
    if session::from_headers(&headers, token.expose(), ctx.clock.now()) {
        html(StatusCode::OK, DASHBOARD.to_string())
    } else {
        login_form(StatusCode::OK, "")
    }
}

/// The login form's fields.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the form is parsed by hand (bounded read); this documents it
struct LoginForm {
    /// The admin token (`http.admin_token`).
    token: String,
}

/// Log in to the status page with the admin token.
///
/// A right token answers 303 to `/` with a session cookie (`HttpOnly`,
/// `SameSite=Strict`, 12 hours; not the token itself); a wrong one answers
/// 401 with the form again.
#[utoipa::path(post, path = "/login", tag = "status page",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: the session cookie is set, go to `/`", headers(
            ("Location" = String, description = "`/`"),
            ("Set-Cookie" = String, description = "The session cookie"),
        )),
        (status = 400, description = "No `token` field, or more than one, or an unreadable body", body = String,
            content_type = "text/html"),
        (status = 401, description = "Wrong token: the form again", body = String, content_type = "text/html"),
        (status = 403, description = "Disabled: no `http.admin_token` is configured", body = String,
            content_type = "text/html"),
        (status = 408, description = "The body did not arrive in time", body = String, content_type = "text/html"),
        (status = 413, description = "A body over 4 KiB", body = String, content_type = "text/html"),
        (status = 415, description = "Not a form (`application/x-www-form-urlencoded`)", body = String,
            content_type = "text/html"),
    ))]
async fn login(State(ctx): State<Ctx>, headers: HeaderMap, body: Body) -> Response {
    let Some(expected) = &ctx.settings.http.admin_token else { return disabled() };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return login_form(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Send the form as application/x-www-form-urlencoded.");
    }
    let bytes = match read_within(body, MAX_LOGIN_BYTES, ctx.settings.http.limits.body_read_timeout).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let status = match e {
                BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
                BodyError::Broken => StatusCode::BAD_REQUEST,
            };
            return login_form(status, &format!("The form could not be read: {e}."));
        }
    };
    let tokens: Vec<String> =
        form_urlencoded::parse(&bytes).filter(|(name, _)| name == "token").map(|(_, v)| v.into_owned()).collect();
    let [given] = tokens.as_slice() else {
        let why = if tokens.is_empty() { "The form has no `token` field." } else { "The form has `token` twice." };
        return login_form(StatusCode::BAD_REQUEST, why);
    };
    if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        metrics::counter!("campaignd_status_page_logins_total", "result" => "refused").increment(1);
        return login_form(StatusCode::UNAUTHORIZED, "Wrong token.");
    }
    metrics::counter!("campaignd_status_page_logins_total", "result" => "accepted").increment(1);
    let cookie = session::issue(expected.expose(), ctx.clock.now());
    let mut response = see_root();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&cookie, session::behind_tls(&headers)));
    response
}

/// Log out of the status page.
///
/// Removes the session cookie from the browser and goes back to the login
/// form.
#[utoipa::path(post, path = "/logout", tag = "status page", responses(
    (status = 303, description = "The session cookie is removed; go to `/`", headers(
        ("Location" = String, description = "`/`"),
        ("Set-Cookie" = String, description = "The session cookie, expired"),
    )),
))]
async fn logout(headers: HeaderMap) -> Response {
    let mut response = see_root();
    response.headers_mut().insert(header::SET_COOKIE, session::clear_cookie(session::behind_tls(&headers)));
    response
}

/// The status page's script.
#[utoipa::path(get, path = "/status/page.js", tag = "status page", responses(
    (status = 200, description = "The script", body = String, content_type = "text/javascript"),
))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The status page's style sheet.
#[utoipa::path(get, path = "/status/page.css", tag = "status page", responses(
    (status = 200, description = "The style sheet", body = String, content_type = "text/css"),
))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn disabled() -> Response {
    html(StatusCode::FORBIDDEN, DISABLED.to_string())
}

/// The login form, with `message` (our own fixed words, never the input)
/// shown above it.
fn login_form(status: StatusCode, message: &str) -> Response {
    let shown = if message.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="login-error" role="alert" data-testid="login-error">{message}</p>"#)
    };
    html(status, LOGIN.replace(LOGIN_MESSAGE, &shown))
}

fn see_root() -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small files that change with the binary: revalidate rather than cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
