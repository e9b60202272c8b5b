//! The cause underneath a vault failure, kept as the error it was (with its chain) rather than
//! flattened into a string: logs print the whole chain, and code that needs to look at the
//! cause (a test, a classifier) can downcast it.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What went wrong underneath a [`super::VaultError`]: the SDK's, the HTTP client's or the
/// JSON parser's own error, or a message where there is no error value.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    /// Keeps `error` (and its chain) as the cause.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Cause {
        Cause(Arc::new(error))
    }

    /// The error itself, for downcasting (`cause.error().downcast_ref::<azure_core::Error>()`).
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

/// A cause that is only a message.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::new(Message(message))
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Cause {
        Cause::from(message.to_string())
    }
}

/// `err`, then each source its text does not already contain, joined by ": ".
pub(crate) fn error_chain(err: &dyn Error) -> String {
    let mut shown = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !shown.contains(&text) {
            shown.push_str(": ");
            shown.push_str(&text);
        }
        source = s.source();
    }
    shown
}

impl fmt::Display for Cause {
    /// The whole chain ([`error_chain`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_chain(self.0.as_ref()))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Two causes are equal when they read the same (errors have no equality of their own).
impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

impl Error for Cause {
    /// The cause's own sources (its text already shows them, see `Display`).
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn shows_the_chain_once_and_keeps_the_error() {
        let cause = Cause::new(Outer(std::io::Error::other("refused")));
        assert_eq!(cause.to_string(), "outer: refused");
        assert!(cause.error().downcast_ref::<Outer>().is_some());
        let repeated = Cause::new(Outer(std::io::Error::other("outer")));
        assert_eq!(repeated.to_string(), "outer");
        assert_eq!(Cause::from("just text").to_string(), "just text");
    }
}
