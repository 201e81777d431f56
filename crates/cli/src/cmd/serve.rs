use std::net::SocketAddr;
use std::path::Path;

use clap::Args as ClapArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

pub fn run(args: Args, db: &Path, threads: usize) -> anyhow::Result<i32> {
    let weaver = super::ingest::open_weaver(db, threads)?;
    // The weaver's models, shared: loading them twice would double start-up and memory.
    let encoders = weaver.encoders().clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    eprintln!("serving {} on http://{}", db.display(), args.addr);
    rt.block_on(storyweave_server::serve(args.addr, db, weaver, encoders))?;
    Ok(0)
}
