//! The contract every blob backend keeps.
//!
//! Services hold `Arc<dyn BlobStore>` and never know which backend they got, so each must
//! behave exactly alike. The tests are written once, against the trait only, as
//! `async fn(BlobBackend)` in `blobs`; `blob_contract_tests!` turns each into one `#[test]`
//! per backend. What only one backend promises is tested beside it (`s3_objects`).
//!
//! The S3 backend finds its server from the environment (see `backends`); without one it
//! skips loudly, except under `CI`, where it fails.

mod backends;

mod blobs;
mod s3_objects;

use bazaar_test_support::contract_tests;

/// Declares, inside `mod $backend`, one test per contract test, each run against a fresh
/// store from `$constructor`, named like `s3::blobs::an_unknown_digest_is_not_found`.
macro_rules! blob_contract_tests {
    ($backend:ident, $constructor:path) => {
        contract_tests!($backend, $constructor, {
            blobs {
                a_stored_binary_reads_back_byte_for_byte,
                storing_a_binary_returns_a_url_that_names_its_digest,
                storing_the_same_binary_twice_is_fine,
                storing_the_same_binary_concurrently_is_fine,
                different_binaries_are_kept_apart,
                an_empty_binary_is_stored_like_any_other,
                an_unknown_digest_is_not_found,
                a_fresh_blob_store_passes_its_check,
            }
        });
    };
}

blob_contract_tests!(local, crate::backends::local_blobs);
blob_contract_tests!(s3, crate::backends::s3_blobs);
