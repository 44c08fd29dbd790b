//! The bounded retry of an optimistic read-check-commit.
//!
//! A guest reads what it needs, plans a conditional `keyvalue-atomics.commit` whose
//! preconditions pin what it read, and sends it. If a concurrent writer got there first the
//! commit conflicts and the whole attempt is made again from fresh reads, but only
//! [`MAX_COMMIT_ATTEMPTS`] times: a guest that keeps losing gives up with a clear error (or
//! a fallback) instead of spinning inside a host call.

/// How many attempts a commit that keeps losing races gets before giving up.
pub const MAX_COMMIT_ATTEMPTS: usize = 16;

/// How one attempt ended, if not with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// It committed (or found nothing to commit); this is the result.
    Done(T),
    /// The commit lost a race; read again and retry.
    Conflict,
}

/// Run `attempt` until it is [`Attempt::Done`] or fails, at most [`MAX_COMMIT_ATTEMPTS`]
/// times; if every attempt conflicted, the result is `exhausted()` (typically an error
/// saying the operation gave up and nothing was written).
pub fn retry_conflicts<T, E>(
    mut attempt: impl FnMut() -> Result<Attempt<T>, E>,
    exhausted: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        if let Attempt::Done(value) = attempt()? {
            return Ok(value);
        }
    }
    exhausted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_done_attempt_wins() {
        let mut calls = 0;
        let result: Result<usize, ()> = retry_conflicts(
            || {
                calls += 1;
                Ok(if calls < 3 {
                    Attempt::Conflict
                } else {
                    Attempt::Done(calls)
                })
            },
            || Err(()),
        );
        assert_eq!(result, Ok(3));
        assert_eq!(calls, 3);
    }

    #[test]
    fn errors_stop_at_once() {
        let mut calls = 0;
        let result: Result<(), &str> = retry_conflicts(
            || {
                calls += 1;
                Err("store failed")
            },
            || Ok(()),
        );
        assert_eq!(result, Err("store failed"));
        assert_eq!(calls, 1);
    }

    #[test]
    fn endless_conflicts_are_bounded() {
        let mut calls = 0;
        let result: Result<(), String> = retry_conflicts(
            || {
                calls += 1;
                Ok(Attempt::Conflict)
            },
            || Err(format!("gave up after {MAX_COMMIT_ATTEMPTS} attempts")),
        );
        assert_eq!(result, Err("gave up after 16 attempts".to_owned()));
        assert_eq!(calls, MAX_COMMIT_ATTEMPTS);

        // The fallback may also succeed (e.g. a simpler commit).
        let fallback: Result<&str, ()> = retry_conflicts(|| Ok(Attempt::Conflict), || Ok("alone"));
        assert_eq!(fallback, Ok("alone"));
    }
}
