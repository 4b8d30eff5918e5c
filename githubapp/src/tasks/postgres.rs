//! The `postgres` task queue backend.
