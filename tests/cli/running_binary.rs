//! The signer binary running `emulator … --print-env` as a child process, for tests that use
//! it as a server (the emulator crate's own tests use it in-process).

/// The real binary running `emulator … --print-env`, killed on drop.
pub struct RunningBinary {
    pub child: std::process::Child,
    pub env: Vec<(String, String)>,
}

impl RunningBinary {
    /// Starts the binary with `args` (plus `--print-env`) and reads its `export` lines.
    pub fn start(args: &[&str]) -> RunningBinary {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
            .arg("emulator")
            .args(args)
            .arg("--print-env")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut env = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("line");
            let (k, v) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            env.push((k.to_string(), v.trim_matches('\'').to_string()));
        }
        // stdout reached EOF: the emulator detached it after printing, and keeps serving.
        assert_eq!(env.len(), 4, "{env:?}");
        RunningBinary { child, env }
    }

    pub fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} not printed"))
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve --dev ARGS…` on `data`; returns it with its address (host:port) and demo tz2 key,
/// once it listens.
pub fn serve_dev_on(
    data: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args(["serve", "--dev", "--port", "0", "--metrics-address", "off"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .env_remove("AZURE_KEYVAULT_URI")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut reader = std::io::BufReader::new(serve.stdout.take().expect("stdout"));
    let (mut url, mut tz2) = (String::new(), String::new());
    while url.is_empty() || tz2.is_empty() {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "serve ended"
        );
        if let Some(u) = line.strip_prefix("listening http://") {
            url = u.trim().to_string();
        } else if let Some(k) = line.trim().strip_prefix("demo key demo-tz2: ") {
            tz2 = k.trim().to_string();
        }
    }
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (serve, url, tz2)
}
