//! The data directory on filesystems mounted by the test (as root; CI runs as root): a small
//! tmpfs that fills up or is read-only at start, and an ext4 image that the kernel turns
//! read-only under a running signer (an ext4 error with `errors=remount-ro`). No signature is
//! released whose mark is not durable, errors say what is wrong, readiness reports it, the
//! signer recovers when space returns (without a restart), and no acknowledged mark is lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::serve_common::{Serving, attestation, client, serve_dev, try_sign};

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop.
struct TinyFs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TinyFs {
    fn mount(size: &str) -> Option<TinyFs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).expect("mount point");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            crate::skip::skipped(
                "disk-fault tests",
                "cannot mount a tmpfs",
                "run the tests as root",
            );
            return None;
        }
        Some(TinyFs { path, _dir: dir })
    }

    fn remount(&self, mode: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the filesystem of `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.write_all(&[0u8; 512]);
    let _ = f.flush();
    path
}

async fn readyz(http: &reqwest::Client, metrics: &str) -> (u16, String) {
    let res = http
        .get(format!("{metrics}/readyz"))
        .send()
        .await
        .expect("readyz");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_keeps_marks_durable_and_reports_it() {
    let Some(fs) = TinyFs::mount("8m") else {
        return;
    };
    let data = fs.path.join("data");
    let mut server = Serving::start(&data, &[]);
    let http = client();
    for level in 1..=3 {
        let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(readyz(&http, &server.metrics).await.0, 200);

    let filler = fill(&fs.path);
    // The journal is preallocated: a mark still becomes durable on a full disk, so signing
    // goes on; the files cannot be rewritten, which readiness reports (after its cache).
    let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(10, 0, 1))
        .await
        .expect("answer");
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(11)).await;
    let (status, why) = readyz(&http, &server.metrics).await;
    assert_eq!(status, 503, "{why}");
    assert!(
        why.contains("watermark store check failed") && why.contains("No space left"),
        "{why}"
    );

    // Once the journal is full, a new mark needs the files rewritten, which the full disk
    // refuses: from then on nothing is signed, and the answer says so.
    let mut level = 10;
    let refused = loop {
        level += 1;
        let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 1))
            .await
            .expect("answer");
        if status != 200 {
            break (status, body);
        }
        assert!(
            level < 10 + 9000,
            "still signing with a full disk and a full journal"
        );
    };
    assert!(level > 8000, "refused after only {} marks", level - 10);
    assert_eq!(refused.0, 500, "{}", refused.1);
    assert!(
        refused
            .1
            .get(0)
            .and_then(|e| e["msg"].as_str())
            .is_some_and(|m| m.contains("watermark store failure: no signature was released")),
        "{}",
        refused.1
    );
    // Space returns: the next request checkpoints and is signed, without a restart.
    std::fs::remove_file(&filler).expect("free the space");
    let (status, body) = try_sign(
        &http,
        &server.url,
        &server.tz2,
        &attestation(level + 1, 0, 1),
    )
    .await
    .expect("answer");
    assert_eq!(status, 200, "{body}");
    let filler = fill(&fs.path);
    let (status, body) = try_sign(
        &http,
        &server.url,
        &server.tz2,
        &attestation(level + 2, 0, 1),
    )
    .await
    .expect("answer");
    assert_eq!(status, 200, "{body}");

    // A crash now: the last mark is in the journal only, and survives.
    server.kill();
    std::fs::remove_file(&filler).expect("free the space");
    let server = Serving::start(&data, &[]);
    let level = level + 2;
    let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 2))
        .await
        .expect("answer");
    assert_eq!(
        status, 409,
        "level {level} was signed before the crash: {body}"
    );
    let (status, body) = try_sign(
        &http,
        &server.url,
        &server.tz2,
        &attestation(level + 1, 0, 2),
    )
    .await
    .expect("answer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(readyz(&http, &server.metrics).await.0, 200);
}

#[test]
fn a_read_only_data_directory_stops_the_start_with_the_reason() {
    let Some(fs) = TinyFs::mount("8m") else {
        return;
    };
    let data = fs.path.join("data");
    drop(Serving::start(&data, &[]));
    assert!(fs.remount("ro"), "remount read-only");
    let out = serve_dev(&data, "off").output().expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(
        stderr.contains(&*data.to_string_lossy()),
        "names the path: {stderr}"
    );
    assert!(fs.remount("rw"), "remount read-write");
    drop(Serving::start(&data, &[]));
}

/// An ext4 filesystem in an image file, loop-mounted with `errors=remount-ro`, so that a test
/// can make the kernel turn it read-only under a running signer (as a failing disk does):
/// `mount -o remount,ro` is refused while the signer holds its journal open for writing.
struct FailingExt4 {
    path: PathBuf,
    image: PathBuf,
    _dir: tempfile::TempDir,
}

impl FailingExt4 {
    fn mount() -> Option<FailingExt4> {
        if !Path::new("/dev/loop-control").exists() {
            // A machine capability, not a setup step: containers without loop devices skip.
            crate::skip::unavailable(
                "ext4 disk-fault test",
                "no loop devices (/dev/loop-control)",
                "a machine or container with loop devices",
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let image = dir.path().join("disk.img");
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).expect("mount point");
        let file = std::fs::File::create(&image).expect("image");
        file.set_len(32 << 20).expect("image size");
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            made,
            "mkfs.ext4 (e2fsprogs) is needed for the ext4 disk fault"
        );
        let fs = FailingExt4 {
            path,
            image,
            _dir: dir,
        };
        if !fs.mount_image() {
            crate::skip::skipped(
                "ext4 disk-fault test",
                "cannot loop-mount an ext4 image",
                "run the tests as root",
            );
            return None;
        }
        Some(fs)
    }

    fn mount_image(&self) -> bool {
        Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(&self.image)
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Makes ext4 record an error, which with `errors=remount-ro` turns it read-only at once.
    fn fail(&self) {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.path)
            .output()
            .expect("findmnt");
        let source = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let device = Path::new(&source).file_name().expect("a loop device");
        let trigger = Path::new("/sys/fs/ext4")
            .join(device)
            .join("trigger_fs_error");
        std::fs::write(&trigger, "test\n").expect("trigger an ext4 error");
        assert!(
            std::fs::File::create(self.path.join("probe")).is_err(),
            "the filesystem turned read-only"
        );
    }

    /// What the operator does after replacing the disk: unmount, repair, mount again.
    fn repair(&self) {
        let _ = Command::new("umount").arg(&self.path).status();
        // e2fsck exits 1 when it corrected the recorded error: that is the expected case.
        let fsck = Command::new("e2fsck")
            .arg("-fy")
            .arg(&self.image)
            .output()
            .expect("e2fsck");
        assert!(fsck.status.code().is_some_and(|c| c <= 1), "{fsck:?}");
        assert!(self.mount_image(), "mount the repaired image");
    }
}

impl Drop for FailingExt4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The disk turns read-only under a running signer: from the next request on nothing is
/// signed (500, the reason in the answer), readiness says the store fails and why, and after
/// the operator repairs the disk and restarts, every acknowledged mark is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_turning_read_only_under_the_signer_releases_nothing() {
    let Some(fs) = FailingExt4::mount() else {
        return;
    };
    let data = fs.path.join("data");
    let mut server = Serving::start(&data, &[]);
    let http = client();
    for level in 1..=5 {
        let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 200, "{body}");
    }
    fs.fail();
    for level in 6..=8 {
        let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 500, "level {level} on a read-only disk: {body}");
        let msg = body
            .get(0)
            .and_then(|e| e["msg"].as_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            msg.contains("watermark store failure: no signature was released"),
            "{body}"
        );
    }
    // Readiness reports it (its cache lasts 10 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let why = loop {
        let (status, why) = readyz(&http, &server.metrics).await;
        if status == 503 {
            break why;
        }
        assert!(std::time::Instant::now() < deadline, "still ready: {why}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        why.contains("watermark store check failed") && why.contains("Read-only file system"),
        "{why}"
    );
    server.kill();
    fs.repair();
    let server = Serving::start(&data, &[]);
    let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(5, 0, 2))
        .await
        .expect("answer");
    assert_eq!(
        status, 409,
        "level 5 was acknowledged before the fault: {body}"
    );
    let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(9, 0, 1))
        .await
        .expect("answer");
    assert_eq!(status, 200, "{body}");
}
