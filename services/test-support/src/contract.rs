//! The expansion every backend contract suite shares.

/// Declares, inside `mod $backend`, one test per contract case listed, each run against a
/// fresh backend from `$constructor`.
///
/// The expansion is `mod $backend { mod $module { #[tokio::test] async fn $test } }`, so
/// that a test reads as `postgres::search::every_word_of_the_query_must_match`, and each
/// test calls the case `crate::$module::$test(backend)`, an `async fn` written once against
/// the trait. The constructor returns `Option`: `None` means the backend's server is not
/// there and the constructor has said so (or failed the test, under `CI`; see
/// [`UnreachableServer`](crate::UnreachableServer)). The calling crate depends on tokio with
/// its `macros` and `rt-multi-thread` features.
#[macro_export]
// `crate::$module` is the calling suite's module of cases, not this crate's.
#[allow(clippy::crate_in_macro_def)]
macro_rules! contract_tests {
    ($backend:ident, $constructor:path, { $($module:ident { $($test:ident),* $(,)? })* }) => {
        mod $backend {
            $(
                mod $module {
                    $(
                        // Several threads, as in production, so that concurrent calls race.
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $test() {
                            // `None`: the backend's server is not there, and its constructor
                            // has said so (or failed the test, in CI).
                            if let Some(backend) = $constructor().await {
                                crate::$module::$test(backend).await;
                            }
                        }
                    )*
                }
            )*
        }
    };
}
