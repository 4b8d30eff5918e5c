//! Integration tests: the real router, real GitHub example payloads signed like GitHub signs
//! them, and the fake GitHub recording what handlers call. One test binary for speed.

#![allow(clippy::unwrap_used)] // test helpers may panic on broken fixtures

mod cli;
mod common;
mod octocrab;
mod ping;
mod pipeline;
mod routes;
mod shutdown;
mod tasks;
