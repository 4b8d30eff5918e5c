// Every method attribute, with axum 0.8 paths and extractors.
#![forbid(unsafe_code)]
#![deny(warnings)]

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use githubapp::prelude::*;
use serde_json::Value;
use std::collections::HashMap;

#[github::get("/health")]
async fn health() -> &'static str {
    "ok"
}

#[github::get("/repos/{owner}/{repo}")]
async fn repo(Path((owner, repo)): Path<(String, String)>) -> String {
    format!("{owner}/{repo}")
}

#[github::get("/search")]
async fn search(Query(params): Query<HashMap<String, String>>) -> impl IntoResponse {
    (StatusCode::OK, format!("{}", params.len()))
}

#[github::post("/echo")]
async fn echo(headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let _ = headers;
    Json(body)
}

#[github::put("/files/{*path}")]
async fn put_file(Path(path): Path<String>, body: String) -> String {
    format!("{path}: {body}")
}

#[github::patch("/items/{id}")]
async fn patch_item(Path(id): Path<u64>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

#[github::delete("/items/{id}")]
async fn delete_item(Path(id): Path<u64>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

#[github::get("/literal/{{braces}}")]
async fn escaped_braces() {}

fn main() {}
