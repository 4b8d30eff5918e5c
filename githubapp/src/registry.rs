//! What the attribute macros registered: webhook handlers, tasks and routes, collected through
//! `inventory` (or given explicitly), validated once at startup.

use std::collections::HashMap;

use crate::__private::{HandlerDescriptor, RouteDescriptor, TaskDescriptor};
use crate::Error;

/// The handlers, tasks and routes an app is built from.
///
/// [`Registry::global`] collects everything `#[github::on]`, `#[github::task]`,
/// `#[github::get]`, ... registered in the binary. Tests can build one from an explicit list with [`Registry::empty`] and
/// [`Registry::filter`].
#[derive(Clone, Default)]
pub struct Registry {
    handlers: Vec<&'static HandlerDescriptor>,
    routes: Vec<&'static RouteDescriptor>,
    tasks: Vec<&'static TaskDescriptor>,
    by_event: HashMap<&'static str, Vec<usize>>,
    wildcard: Vec<usize>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("handlers", &self.handlers.iter().map(|h| h.qualified_name()).collect::<Vec<_>>())
            .field(
                "routes",
                &self.routes.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>(),
            )
            .field("tasks", &self.tasks.iter().map(|t| t.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// Everything registered in this binary.
    pub fn global() -> Registry {
        let mut handlers: Vec<_> = inventory::iter::<HandlerDescriptor>.into_iter().collect();
        let mut routes: Vec<_> = inventory::iter::<RouteDescriptor>.into_iter().collect();
        // inventory's order depends on link order; sort for stable output.
        handlers.sort_by_key(|h| (h.module_path, h.line));
        routes.sort_by_key(|r| (r.path, r.method));
        let mut tasks: Vec<_> = inventory::iter::<TaskDescriptor>.into_iter().collect();
        tasks.sort_by_key(|t| (t.name, t.module_path, t.line));
        Registry::from_parts(handlers, routes).with_tasks(tasks)
    }

    /// No handlers and no routes.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// A registry from explicit descriptors.
    pub fn from_parts(
        handlers: Vec<&'static HandlerDescriptor>,
        routes: Vec<&'static RouteDescriptor>,
    ) -> Registry {
        let mut r = Registry { handlers, routes, ..Registry::default() };
        r.index();
        r
    }

    /// The same registry with these tasks (in place of any it had).
    pub fn with_tasks(mut self, tasks: Vec<&'static TaskDescriptor>) -> Registry {
        self.tasks = tasks;
        self
    }

    /// Keeps only the handlers whose `module::name` satisfies `keep` (routes and tasks are
    /// kept).
    ///
    /// ```
    /// let only_greet = githubapp::Registry::global().filter(|name| name.ends_with("::greet"));
    /// assert!(only_greet.handlers().iter().all(|h| h.name == "greet"));
    /// ```
    pub fn filter(self, keep: impl Fn(&str) -> bool) -> Registry {
        let handlers = self.handlers.into_iter().filter(|h| keep(h.qualified_name())).collect();
        Registry::from_parts(handlers, self.routes).with_tasks(self.tasks)
    }

    fn index(&mut self) {
        self.by_event.clear();
        self.wildcard.clear();
        for (i, h) in self.handlers.iter().enumerate() {
            for spec in h.specs {
                if spec.event == "*" {
                    self.wildcard.push(i);
                } else {
                    let list = self.by_event.entry(spec.event).or_default();
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
    }

    /// Registered webhook handlers.
    pub fn handlers(&self) -> &[&'static HandlerDescriptor] {
        &self.handlers
    }

    /// Registered HTTP routes.
    pub fn routes(&self) -> &[&'static RouteDescriptor] {
        &self.routes
    }

    /// Registered `#[github::task]` functions.
    pub fn tasks(&self) -> &[&'static TaskDescriptor] {
        &self.tasks
    }

    /// The named queues tasks run on (`queue = "..."`), each with the first task that names it.
    pub fn task_queues(&self) -> std::collections::BTreeMap<&'static str, &'static TaskDescriptor> {
        let mut out = std::collections::BTreeMap::new();
        for t in &self.tasks {
            if let Some(q) = t.queue {
                out.entry(q).or_insert(*t);
            }
        }
        out
    }

    /// `Ok` when `name` is `default` or a queue some task names; otherwise an error listing
    /// the queues there are (for `worker --queue` and `tasks --queue`).
    pub fn check_queue_name(&self, name: &str) -> Result<(), Error> {
        let queues = self.task_queues();
        if name == "default" || queues.contains_key(name) {
            return Ok(());
        }
        let known: Vec<&str> = std::iter::once("default").chain(queues.into_keys()).collect();
        Err(Error::Registry(format!(
            "no task queue named `{name}`; this app's queues are: {}",
            known.join(", ")
        )))
    }

    /// The task registered under `name`.
    pub fn task(&self, name: &str) -> Option<&'static TaskDescriptor> {
        self.tasks.iter().copied().find(|t| t.name == name)
    }

    /// The handlers for a delivery of `event` with `action`, in registration order.
    pub fn handlers_for(&self, event: &str, action: Option<&str>) -> Vec<&'static HandlerDescriptor> {
        let mut out: Vec<usize> = Vec::new();
        if let Some(list) = self.by_event.get(event) {
            for &i in list {
                let matches = self.handlers[i]
                    .specs
                    .iter()
                    .any(|s| s.event == event && (s.action.is_none() || s.action == action));
                if matches {
                    out.push(i);
                }
            }
        }
        for &i in &self.wildcard {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out.sort_unstable();
        out.into_iter().map(|i| self.handlers[i]).collect()
    }

    /// The background handler a task of this name runs (`webhook:<module>::<fn>`).
    pub(crate) fn background_handler(&self, task_name: &str) -> Option<&'static HandlerDescriptor> {
        self.handlers.iter().copied().find(|h| h.background && h.task_name == task_name)
    }

    /// Startup checks: duplicate names and routes are errors listing both places; an empty
    /// registry means the linker dropped the crate holding the handlers.
    pub fn validate(&self, webhook_path: &str) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut seen: HashMap<&str, &HandlerDescriptor> = HashMap::new();
        for h in &self.handlers {
            if let Some(prev) = seen.insert(h.qualified_name(), h) {
                problems.push(format!(
                    "handler `{}` is registered twice: {}:{} and {}:{}",
                    h.qualified_name(),
                    prev.file,
                    prev.line,
                    h.file,
                    h.line
                ));
            }
        }
        let mut seen_tasks: HashMap<&str, &TaskDescriptor> = HashMap::new();
        for t in &self.tasks {
            if let Some(prev) = seen_tasks.insert(t.name, t) {
                problems.push(format!(
                    "task name `{}` is registered twice: `{}::{}` at {}:{} and `{}::{}` at {}:{}; \
                     give one of them another `name = \"...\"`",
                    t.name,
                    prev.module_path,
                    prev.fn_name,
                    prev.file,
                    prev.line,
                    t.module_path,
                    t.fn_name,
                    t.file,
                    t.line
                ));
            }
        }
        let mut seen_routes: HashMap<(&str, &str), &RouteDescriptor> = HashMap::new();
        for r in &self.routes {
            if let Some(prev) = seen_routes.insert((r.method, r.path), r) {
                problems.push(format!(
                    "route `{} {}` is registered twice: `{}` at {}:{} and `{}` at {}:{}",
                    r.method, r.path, prev.name, prev.file, prev.line, r.name, r.file, r.line
                ));
            }
            if r.path == webhook_path || r.path == crate::server::HEALTH_PATH {
                problems.push(format!(
                    "route `{} {}` (`{}` at {}:{}) collides with the built-in route `{}`",
                    r.method, r.path, r.name, r.file, r.line, r.path
                ));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(Error::Registry(problems.join("\n"))) }
    }

    /// `true` when nothing at all is registered.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty() && self.routes.is_empty() && self.tasks.is_empty()
    }
}

impl HandlerDescriptor {
    /// `module::path::fn_name`: the handler's unique name (and its task name suffix).
    pub fn qualified_name(&self) -> &'static str {
        self.qualified_name
    }

    /// The task name background runs of this handler are queued under.
    pub fn task_name(&self) -> &'static str {
        self.task_name
    }

    /// The specs as written: `issues.opened`, `push`, `*`.
    pub fn spec_strings(&self) -> Vec<String> {
        self.specs
            .iter()
            .map(|s| match s.action {
                Some(a) => format!("{}.{}", s.event, a),
                None => s.event.to_string(),
            })
            .collect()
    }
}

/// The error `run()` gives when nothing is registered.
pub(crate) const EMPTY_REGISTRY_HELP: &str = "no webhook handlers, tasks or routes are registered in this binary.\n\
    If your handlers live in another crate or module that `main` never names, the linker dropped them: \
    add `use my_handlers as _;` (the crate or module with the `#[github::on]` functions) to main.rs";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{HandlerFuture, TaskContext};

    fn run(_: TaskContext) -> HandlerFuture {
        Box::pin(async { Ok(()) })
    }

    static FIRST: TaskDescriptor = TaskDescriptor {
        name: "sync",
        fn_name: "sync",
        module_path: "app::a",
        file: "src/a.rs",
        line: 3,
        retries: None,
        timeout: None,
        queue: None,
        call: run,
    };
    static SECOND: TaskDescriptor = TaskDescriptor {
        name: "sync",
        fn_name: "other",
        module_path: "app::b",
        file: "src/b.rs",
        line: 9,
        retries: None,
        timeout: None,
        queue: Some("slow"),
        call: run,
    };

    #[test]
    fn tasks_are_found_by_name_and_duplicates_name_both_places() {
        let one = Registry::empty().with_tasks(vec![&FIRST]);
        assert!(!one.is_empty());
        assert!(one.validate("/webhook").is_ok());
        assert_eq!(one.task("sync").map(|t| t.fn_name), Some("sync"));
        assert!(one.task("nope").is_none());
        assert!(one.task_queues().is_empty());
        let two = Registry::empty().with_tasks(vec![&FIRST, &SECOND]).filter(|_| true);
        assert_eq!(two.task_queues().get("slow").map(|t| t.fn_name), Some("other"));
        let err = two.validate("/webhook").unwrap_err().to_string();
        assert!(
            err.contains("task name `sync` is registered twice: `app::a::sync` at src/a.rs:3 and `app::b::other` at src/b.rs:9"),
            "{err}"
        );
    }
}
