//! A program on a real pseudo-terminal, for tests of what a person sees and types (hidden
//! passphrase prompts, confirmations): the test reads the screen, and types only once the
//! program waits for input in the mode it asked for, so nothing typed can race the program
//! turning echo off.
#![allow(unsafe_code)] // openpty, setsid and TIOCSCTTY have no safe std wrapper.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process whose stdin, stdout and stderr are one pseudo-terminal.
pub struct Pty {
    pub child: Child,
    master: File,
    screen: mpsc::Receiver<Vec<u8>>,
    /// Everything shown so far.
    pub seen: Vec<u8>,
}

impl Pty {
    pub fn spawn(cmd: Command) -> Pty {
        Pty::open(cmd, None)
    }

    /// On a terminal of `cols` columns and `rows` rows (what the program learns from
    /// TIOCGWINSZ).
    pub fn spawn_sized(cmd: Command, cols: u16, rows: u16) -> Pty {
        Pty::open(
            cmd,
            Some(libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            }),
        )
    }

    fn open(mut cmd: Command, size: Option<libc::winsize>) -> Pty {
        let (mut master, mut slave) = (-1, -1);
        let size_ptr = size
            .as_ref()
            .map_or(std::ptr::null(), |s| s as *const libc::winsize);
        // SAFETY: openpty writes two new descriptors into the given ints; the name and
        // termios arguments may be null, the window size is null or points to a live struct.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                size_ptr,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just created and are owned here alone.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let slave_fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        // SAFETY: between fork and exec only async-signal-safe calls: a new session whose
        // controlling terminal is the pseudo-terminal (so the program sees a real tty).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let _ = slave_fd;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pseudo-terminal");
        drop(cmd);
        let master = File::from(master);
        let mut reader = master.try_clone().expect("dup the master");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child side is closed: the screen has ended.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            child,
            master,
            screen: rx,
            seen: Vec::new(),
        }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// The last `rows` rows a terminal `cols` wide shows now: what was written, with long
    /// lines wrapped, `\r` returning to the row's start, escape sequences (colours, cursor
    /// visibility) dropped except "erase to the end of the row".
    pub fn rows(&self, cols: usize, rows: usize) -> Vec<String> {
        let mut screen: Vec<Vec<char>> = vec![Vec::new()];
        let mut col = 0;
        let text = self.screen();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let row = screen.len() - 1;
            match c {
                '\n' => {
                    screen.push(Vec::new());
                    col = 0;
                }
                '\r' => col = 0,
                '\u{1b}' => {
                    if chars.next_if_eq(&'[').is_none() {
                        chars.next();
                        continue;
                    }
                    // CSI: parameters, then one final byte in @..~.
                    let last = chars.by_ref().find(|c| ('@'..='~').contains(c));
                    if last == Some('K') {
                        screen[row].truncate(col);
                    }
                }
                c if c.is_control() => {}
                c => {
                    if col == cols {
                        screen.push(Vec::new());
                        col = 0;
                    }
                    let row = screen.len() - 1;
                    if col < screen[row].len() {
                        screen[row][col] = c;
                    } else {
                        screen[row].push(c);
                    }
                    col += 1;
                }
            }
        }
        let from = screen.len().saturating_sub(rows);
        screen[from..].iter().map(|r| r.iter().collect()).collect()
    }

    /// Reads the screen until it contains `text` (30 s limit).
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.screen().contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "{text:?} never appeared; the screen shows:\n{}",
                    self.screen()
                ),
            }
        }
    }

    /// Reads the screen until the program has exited and closed it.
    pub fn read_to_end(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "the program did not finish; the screen shows:\n{}",
                        self.screen()
                    )
                }
            }
        }
    }

    fn local_flags(&self) -> libc::tcflag_t {
        // SAFETY: tcgetattr fills the zeroed struct for a descriptor we own; on Linux the
        // master reports the terminal's (the slave's) settings.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        t.c_lflag
    }

    fn wait_until_cleared(&self, flag: libc::tcflag_t, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.local_flags() & flag != 0 {
            assert!(
                Instant::now() < deadline,
                "{what} never happened:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the program has turned echo off (a hidden prompt), 30 s limit.
    pub fn wait_for_hidden_input(&self) {
        self.wait_until_cleared(libc::ECHO, "turning echo off");
    }

    /// Waits until the program reads single keys (raw mode, a yes/no prompt), 30 s limit.
    pub fn wait_for_key_input(&self) {
        self.wait_until_cleared(libc::ICANON, "switching to raw mode");
    }

    /// Types `text` (a terminal sends Enter as `\r`).
    pub fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).expect("type");
        self.master.flush().expect("flush");
    }

    /// Waits for the exit code after the screen ended.
    pub fn wait(&mut self) -> i32 {
        self.read_to_end();
        self.child
            .wait()
            .expect("wait")
            .code()
            .expect("an exit code")
    }
}
