//! One constructor per blob backend. Each returns a fresh, empty store that lives as long as
//! the value it returns, or `None` when the backend's server cannot be reached and the test
//! is skipped; adding a backend means one constructor here and one line in `main.rs`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use bazaar_blobs::{BlobStore, LocalBlobStore, S3BlobStore, S3Location};

/// A blob store of one backend, seen only through its trait.
pub struct BlobBackend {
    pub blobs: Arc<dyn BlobStore>,
    _storage: Box<dyn Any + Send + Sync>,
}

/// Binaries in a temporary directory, as embedded mode keeps them.
pub async fn local_blobs() -> Option<BlobBackend> {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = LocalBlobStore::open(directory.path().join("blobs"))
        .await
        .expect("local blob store opens");
    Some(BlobBackend {
        blobs: Arc::new(store),
        _storage: Box::new(directory),
    })
}

/// The S3-compatible server the S3 contract tests create their buckets on, unless
/// `BAZAAR_TEST_S3_ENDPOINT` names another; `scripts/s3.sh` starts moto there.
const DEFAULT_S3_ENDPOINT: &str = "http://127.0.0.1:9000";

/// Binaries in a bucket of their own, as distributed mode keeps them.
pub async fn s3_blobs() -> Option<BlobBackend> {
    let bucket = s3_bucket().await?;
    Some(BlobBackend {
        blobs: bucket.store.clone(),
        _storage: Box::new(bucket),
    })
}

/// A bucket made for one test and emptied and deleted after it, with the store that keeps
/// binaries in it and a client of its own to reach behind the store's back.
pub struct S3Bucket {
    pub store: Arc<S3BlobStore>,
    pub client: aws_sdk_s3::Client,
    pub config: SdkConfig,
    pub name: String,
}

/// A fresh bucket, created by the store as the gateway creates its own at start-up. Skips
/// the test (loudly) when the server cannot be reached, but fails it under `CI`.
pub async fn s3_bucket() -> Option<S3Bucket> {
    let endpoint =
        std::env::var("BAZAAR_TEST_S3_ENDPOINT").unwrap_or_else(|_| DEFAULT_S3_ENDPOINT.to_owned());
    if let Err(cause) = answers(&endpoint).await {
        return s3_unreachable(&endpoint, &cause);
    }

    let name = format!("bazaar-test-{}", uuid::Uuid::now_v7().simple());
    let config = s3_test_config(&endpoint);
    let store = S3BlobStore::with_config(&config, &bucket_location(&name), true)
        .await
        .unwrap_or_else(|error| panic!("S3 blob store on {endpoint} opens: {error:#}"));
    Some(S3Bucket {
        store: Arc::new(store),
        client: s3_client(&config),
        config,
        name,
    })
}

/// What `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// would say, given explicitly: the tests never change the process environment. Each call
/// has an HTTP client, and so a connection pool, of its own.
pub fn s3_test_config(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new("test", "test", None, None, "bazaar-contract-tests");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build()
}

/// A plain S3 client for `config`, addressing buckets by path as the store does.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Whether something accepts connections at the endpoint's host and port.
async fn answers(endpoint: &str) -> Result<(), String> {
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| format!("{endpoint} is not a url"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let address = if authority.contains(':') {
        authority.to_owned()
    } else if scheme == "https" {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within 5 seconds".to_owned()),
    }
}

fn s3_unreachable<T>(endpoint: &str, cause: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!(
            "no S3 server at {endpoint} ({cause}), and CI runs every backend: start one with \
             scripts/s3.sh, or point BAZAAR_TEST_S3_ENDPOINT at one"
        );
    }
    eprintln!(
        "SKIPPED: no S3 server at {endpoint} ({cause}); the S3 contract tests did not run. \
         Start one with scripts/s3.sh, or point BAZAAR_TEST_S3_ENDPOINT at one."
    );
    None
}

impl Drop for S3Bucket {
    fn drop(&mut self) {
        // As for a throwaway database: a thread with a runtime of its own, and a client of
        // its own, since the test's runtime (and its connections) may be going away. A
        // bucket that cannot be deleted is left behind, never a panic here.
        let config = match self.config.endpoint_url() {
            Some(endpoint) => s3_test_config(endpoint),
            None => return,
        };
        let name = self.name.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = s3_client(&config);
                let listed = client.list_objects_v2().bucket(&name).send().await.ok()?;
                for object in listed.contents() {
                    let key = object.key()?;
                    client
                        .delete_object()
                        .bucket(&name)
                        .key(key)
                        .send()
                        .await
                        .ok()?;
                }
                client.delete_bucket().bucket(&name).send().await.ok()
            })
        })
        .join();
        if !matches!(deleted, Ok(Some(_))) {
            eprintln!("warning: test bucket {} was left behind", self.name);
        }
    }
}

/// The location of the bucket called `name`.
pub fn bucket_location(name: &str) -> S3Location {
    S3Location::parse(&format!("s3://{name}")).expect("a test bucket name is valid")
}
