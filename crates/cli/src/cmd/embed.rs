use std::io::{BufRead, Read, Write};

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use storyweave_embed::{E5Model, Prefix, UseModel};

#[derive(Clone, Copy, ValueEnum)]
pub enum Model {
    E5,
    Use,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PrefixArg {
    Query,
    Passage,
}

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long, value_enum, default_value = "e5")]
    model: Model,
    /// e5 only: the prefix put before the text.
    #[arg(long, value_enum, default_value = "query")]
    prefix: PrefixArg,
    /// e5 only: content tokens read (default: the whole text, in 510-token windows).
    #[arg(long)]
    tokens: Option<usize>,
    /// Read one `{"text": …}` object a line and write one `{"vector": […]}` a line, in order.
    #[arg(long)]
    jsonl: bool,
}

pub fn run(args: Args, threads: usize) -> anyhow::Result<i32> {
    let files = super::models()?;
    let mut texts = Vec::new();
    if args.jsonl {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.with_context(|| format!("<stdin>:{}: not valid UTF-8", i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("<stdin>:{}: invalid JSON", i + 1))?;
            match v.get("text").and_then(|t| t.as_str()) {
                Some(t) => texts.push(t.to_string()),
                None => bail!("<stdin>:{}: field `text`: missing or not a string", i + 1),
            }
        }
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("<stdin>: not valid UTF-8")?;
        texts.push(s);
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = match args.model {
        Model::E5 => {
            let prefix = match args.prefix {
                PrefixArg::Query => Prefix::Query,
                PrefixArg::Passage => Prefix::Passage,
            };
            E5Model::load(&files.e5)?.embed_batch(&refs, prefix, args.tokens, threads)
        }
        Model::Use => UseModel::load(&files.usem)?.embed_batch(&refs, threads),
    };
    let mut out = std::io::stdout().lock();
    for v in vectors {
        if args.jsonl {
            writeln!(out, "{}", serde_json::json!({ "vector": v }))?;
        } else {
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        }
    }
    Ok(0)
}
