//! Generates the Rust types and the gRPC service from `proto/` with protox, a protobuf
//! compiler in pure Rust, so that building Bazaar needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let files = [
        format!("{root}/bazaar/v1/queue.proto"),
        format!("{root}/bazaar/v1/results.proto"),
    ];
    let descriptors = protox::compile(&files, [root])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
