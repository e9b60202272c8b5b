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
