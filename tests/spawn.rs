//! Starting a harness script and waiting for its READY line.
//!
//! The PDS harness (`tests/pds/run.sh`) and the AppView harness
//! (`tests/appview/run.sh`) follow one protocol: they log to stderr, print one
//! `<PREFIX> {json}` line on stdout once every service answers, and exit when
//! their stdin closes. [`spawn_until_ready`] starts such a script, waits for
//! that line, and hands back the running [`Process`] with the JSON object;
//! when the line does not come (the script exits first, or takes too long, or
//! prints something that is not the expected JSON) it stops the script and
//! says why, quoting the end of what the script printed.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many of a script's last output lines a failure to start quotes.
const TAIL_LINES: usize = 40;

/// How long a failure waits for the rest of a stopped script's output (a
/// process the script started in the background may hold its pipes open).
const OUTPUT_WAIT: Duration = Duration::from_secs(5);

/// What [`spawn_until_ready`] waits for, and how it stops the script.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    /// Names the script in messages, e.g. `tests/pds/run.sh`.
    pub name: &'a str,
    /// The word that starts the READY line, e.g. `PDS_READY` (a space and
    /// the JSON object follow it).
    pub prefix: &'a str,
    /// How long the script may take to print the READY line.
    pub timeout: Duration,
    /// How long the script gets to exit once its stdin is closed before it
    /// is sent SIGTERM (and half as long again before SIGKILL): see
    /// [`Process::stop`].
    pub grace: Duration,
}

/// A started script that printed its READY line.
#[derive(Debug)]
pub struct Ready<const N: usize> {
    /// The running script; dropping it stops the script.
    pub process: Process,
    /// The string values of the required keys, in the order asked for.
    pub fields: [String; N],
    /// The whole JSON object of the READY line.
    pub json: serde_json::Value,
}

/// A running script, stopped when dropped.
///
/// Its stdin stays open while it lives: the harness scripts exit when it
/// closes, so a test process that crashes or is killed cannot leave them
/// running.
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    grace: Duration,
    status: Option<ExitStatus>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.child.id())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Process {
    /// Stops the script and returns how it ended (`None` only if waiting for
    /// it failed): closing its stdin asks it to shut down cleanly (the
    /// AppView script then stops its PostgreSQL cluster and removes its
    /// files); after the grace period it gets SIGTERM (which the scripts'
    /// traps also clean up on), and after half as long again SIGKILL.
    /// Stopping a stopped process returns the same status again.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        drop(self.stdin.take());
        if !self.wait_for(self.grace) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !self.wait_for(self.grace / 2) {
                let _ = self.child.kill();
                self.status = self.child.wait().ok();
            }
        }
        self.status
    }

    /// Polls for the child's exit for up to `limit`; true (status recorded)
    /// when it exited.
    fn wait_for(&mut self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a script did not become ready. The script has been stopped.
#[derive(Debug)]
pub enum NotReady {
    /// The script could not be started at all.
    Spawn {
        /// The script, as [`Launch::name`] names it.
        name: String,
        /// Why.
        error: std::io::Error,
    },
    /// Its stdout ended without a READY line (it exited, or closed it).
    Exited {
        /// The script.
        name: String,
        /// The READY line's prefix.
        prefix: String,
        /// How it ended (`None` if waiting for it failed).
        status: Option<ExitStatus>,
        /// Its last output lines, stdout and stderr interleaved.
        output: String,
    },
    /// No READY line within [`Launch::timeout`]; the script was then stopped.
    Timeout {
        /// The script.
        name: String,
        /// The READY line's prefix.
        prefix: String,
        /// The timeout.
        after: Duration,
        /// How it ended once stopped (`None` if waiting for it failed).
        status: Option<ExitStatus>,
        /// Its last output lines, stdout and stderr interleaved.
        output: String,
    },
    /// The READY line does not carry a JSON value.
    BadJson {
        /// The READY line's prefix.
        prefix: String,
        /// What followed the prefix.
        line: String,
        /// The JSON parser's complaint.
        error: serde_json::Error,
    },
    /// The READY line's JSON lacks a required key, or its value is not a
    /// string.
    MissingKey {
        /// The READY line's prefix.
        prefix: String,
        /// The key.
        key: String,
        /// What followed the prefix.
        line: String,
    },
}

/// `exit status: 3`, `signal: 15 (SIGTERM)`, or that it is unknown.
fn describe(status: &Option<ExitStatus>) -> String {
    match status {
        Some(status) => status.to_string(),
        None => "exit status unknown".to_owned(),
    }
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Spawn { name, error } => write!(f, "cannot start {name}: {error}"),
            NotReady::Exited {
                name,
                prefix,
                status,
                output,
            } => write!(
                f,
                "{name} exited ({}) before printing its {prefix} line; its last output:\n{output}",
                describe(status)
            ),
            NotReady::Timeout {
                name,
                prefix,
                after,
                status,
                output,
            } => write!(
                f,
                "{name} printed no {prefix} line within {}s and was stopped ({}); its last output:\n{output}",
                after.as_secs_f64(),
                describe(status)
            ),
            NotReady::BadJson {
                prefix,
                line,
                error,
            } => write!(f, "bad {prefix} line {line:?}: {error}"),
            NotReady::MissingKey { prefix, key, line } => {
                write!(f, "{prefix} line lacks {key}: {line}")
            }
        }
    }
}

impl std::error::Error for NotReady {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NotReady::Spawn { error, .. } => Some(error),
            NotReady::BadJson { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The last [`TAIL_LINES`] lines a script printed, on either stream.
#[derive(Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Vec::from_iter(lines.iter().map(String::as_str)).join("\n")
    }
}

/// Calls `each` with every line of `from` (lossily decoded, without its line
/// end) until it ends or fails to read.
fn read_lines(from: impl Read, mut each: impl FnMut(String)) {
    let mut from = BufReader::new(from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match from.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                each(line.trim_end_matches(['\n', '\r']).to_owned());
            }
        }
    }
}

/// Runs `cmd` with piped stdin, stdout and stderr and waits up to
/// `launch.timeout` for a `<prefix> {json}` line on its stdout whose JSON
/// object has a string for each of `keys`.
///
/// Both streams are read on threads for as long as the script runs, so it
/// never blocks on a full pipe; their other lines are kept (the last 40) for
/// the error message. On any failure the script is stopped
/// ([`Process::stop`]) before this returns.
pub fn spawn_until_ready<const N: usize>(
    mut cmd: Command,
    launch: &Launch<'_>,
    keys: [&str; N],
) -> Result<Ready<N>, NotReady> {
    let name = launch.name;
    let prefix = launch.prefix;
    let spawn_error = |error| NotReady::Spawn {
        name: name.to_owned(),
        error,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut process = Process {
        child,
        stdin,
        grace: launch.grace,
        status: None,
    };
    let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
        return Err(spawn_error(std::io::Error::other(
            "its output is not piped",
        )));
    };

    let tail = Tail::default();
    // Each reader sends `()` on `done` when its stream ends.
    let (done_tx, done_rx) = mpsc::channel();
    let (line_tx, line_rx) = mpsc::channel();
    {
        let tail = tail.clone();
        let done = done_tx.clone();
        let marker = format!("{prefix} ");
        std::thread::spawn(move || {
            let mut line_tx = Some(line_tx);
            read_lines(stdout, |line| match line.strip_prefix(&marker) {
                Some(json) if line_tx.is_some() => {
                    if let Some(tx) = line_tx.take() {
                        let _ = tx.send(json.to_owned());
                    }
                }
                _ => tail.push(line),
            });
            // Ending without the line drops `line_tx`: the waiter sees the
            // channel disconnect.
            drop(line_tx);
            let _ = done.send(());
        });
    }
    {
        let tail = tail.clone();
        std::thread::spawn(move || {
            read_lines(stderr, |line| tail.push(line));
            let _ = done_tx.send(());
        });
    }
    // The output of a stopped script, once both streams end (or a while
    // passes).
    let output = || {
        let until = Instant::now() + OUTPUT_WAIT;
        for _ in 0..2 {
            let left = until.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        tail.text()
    };

    let line = match line_rx.recv_timeout(launch.timeout) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout) => {
            let status = process.stop();
            return Err(NotReady::Timeout {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                after: launch.timeout,
                status,
                output: output(),
            });
        }
        Err(RecvTimeoutError::Disconnected) => {
            let status = process.stop();
            return Err(NotReady::Exited {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                status,
                output: output(),
            });
        }
    };
    // On the errors below `process` is dropped, which stops the script.
    let json: serde_json::Value =
        serde_json::from_str(&line).map_err(|error| NotReady::BadJson {
            prefix: prefix.to_owned(),
            line: line.clone(),
            error,
        })?;
    if let Some(key) = keys.iter().find(|key| !json[**key].is_string()) {
        return Err(NotReady::MissingKey {
            prefix: prefix.to_owned(),
            key: (*key).to_owned(),
            line,
        });
    }
    let fields = keys.map(|key| json[key].as_str().unwrap_or_default().to_owned());
    Ok(Ready {
        process,
        fields,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;

    /// `sh -c script`.
    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    /// Waits for `TEST_READY` up to `timeout`, with a short grace period.
    fn launch(timeout: Duration) -> Launch<'static> {
        Launch {
            name: "the test script",
            prefix: "TEST_READY",
            timeout,
            grace: Duration::from_millis(200),
        }
    }

    /// Long enough for any of these scripts to print, even on a loaded
    /// machine.
    const PATIENT: Duration = Duration::from_secs(60);

    /// True while the process `pid` exists (it is gone once reaped).
    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn the_ready_line_after_other_output_is_parsed() {
        let script = r#"
            echo starting
            echo "a log line" >&2
            echo "TEST_READY_NOT {}"
            echo 'TEST_READY {"url":"http://127.0.0.1:1","plc":"http://127.0.0.1:2","n":5}'
            exec cat"#;
        let mut ready = spawn_until_ready(sh(script), &launch(PATIENT), ["url", "plc"]).unwrap();
        assert_eq!(ready.fields, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(ready.json["n"], 5);
        // Its stdin stays open: `cat` still runs until it is stopped.
        assert!(ready.process.child.try_wait().unwrap().is_none());
        let status = ready.process.stop().unwrap();
        assert!(status.success(), "{status}");
        // Stopping again reports the same.
        assert_eq!(ready.process.stop(), Some(status));
    }

    #[test]
    fn dropping_the_process_stops_the_script() {
        let ready = spawn_until_ready(
            sh(r#"echo "TEST_READY {\"pid\":\"$$\"}"; exec cat"#),
            &launch(PATIENT),
            ["pid"],
        )
        .unwrap();
        let pid: u32 = ready.fields[0].parse().unwrap();
        assert!(alive(pid));
        drop(ready);
        assert!(!alive(pid));
    }

    #[test]
    fn an_early_exit_is_named_with_the_output() {
        let script = r#"
            echo "reading the config"
            echo "boom: no config file" >&2
            exit 3"#;
        let err = spawn_until_ready(sh(script), &launch(PATIENT), ["url"]).unwrap_err();
        let NotReady::Exited { status, output, .. } = &err else {
            panic!("not an exit: {err:?}");
        };
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert!(output.contains("reading the config"), "{output}");
        assert!(output.contains("boom: no config file"), "{output}");
        let message = err.to_string();
        assert!(
            message.starts_with(
                "the test script exited (exit status: 3) before printing its TEST_READY line"
            ),
            "{message}"
        );
        assert!(message.contains("boom: no config file"), "{message}");
    }

    #[test]
    fn a_script_that_never_gets_ready_is_stopped_after_the_timeout() {
        let started = Instant::now();
        let err = spawn_until_ready(
            sh(r#"echo "waiting, pid $$"; exec sleep 600"#),
            &launch(Duration::from_millis(300)),
            ["url"],
        )
        .unwrap_err();
        // Far less than the script's own 600 s.
        assert!(started.elapsed() < Duration::from_secs(60));
        let NotReady::Timeout { status, output, .. } = &err else {
            panic!("not a timeout: {err:?}");
        };
        // `sleep` ignores its stdin closing, so it got SIGTERM.
        assert_eq!(status.and_then(|s| s.signal()), Some(15));
        let pid: u32 = output
            .strip_prefix("waiting, pid ")
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {output:?}"));
        assert!(!alive(pid));
        let message = err.to_string();
        assert!(
            message.starts_with("the test script printed no TEST_READY line within 0.3s"),
            "{message}"
        );
        assert!(message.contains("waiting, pid"), "{message}");
    }

    #[test]
    fn a_script_that_ignores_sigterm_is_killed() {
        let err = spawn_until_ready(
            sh(r#"trap "" TERM; echo waiting; while :; do sleep 0.05; done"#),
            &launch(Duration::from_millis(300)),
            ["url"],
        )
        .unwrap_err();
        let NotReady::Timeout { status, .. } = &err else {
            panic!("not a timeout: {err:?}");
        };
        assert_eq!(status.and_then(|s| s.signal()), Some(9));
    }

    #[test]
    fn a_ready_line_without_json_is_refused_and_the_script_stopped() {
        let err = spawn_until_ready(
            sh(r#"echo "TEST_READY {\"pid\": $$,"; exec cat"#),
            &launch(PATIENT),
            ["url"],
        )
        .unwrap_err();
        let NotReady::BadJson { line, .. } = &err else {
            panic!("not bad JSON: {err:?}");
        };
        let pid: u32 = line
            .trim_start_matches("{\"pid\": ")
            .trim_end_matches(',')
            .parse()
            .unwrap();
        assert!(!alive(pid));
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("bad TEST_READY line \"{{\\\"pid\\\": {pid},\": ")),
            "{message}"
        );
    }

    #[test]
    fn a_missing_or_non_string_key_is_named() {
        let script = r#"echo 'TEST_READY {"url":"http://127.0.0.1:1","n":5}'; exec cat"#;
        let err = spawn_until_ready(sh(script), &launch(PATIENT), ["url", "plc"]).unwrap_err();
        assert!(
            matches!(&err, NotReady::MissingKey { key, .. } if key == "plc"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            r#"TEST_READY line lacks plc: {"url":"http://127.0.0.1:1","n":5}"#
        );
        let err = spawn_until_ready(sh(script), &launch(PATIENT), ["n"]).unwrap_err();
        assert!(
            matches!(&err, NotReady::MissingKey { key, .. } if key == "n"),
            "{err:?}"
        );
    }

    #[test]
    fn a_script_that_cannot_start_is_named() {
        let err = spawn_until_ready(
            Command::new("/nonexistent/run.sh"),
            &launch(PATIENT),
            ["url"],
        )
        .unwrap_err();
        assert!(matches!(err, NotReady::Spawn { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot start the test script: "),
            "{err}"
        );
    }

    #[test]
    fn much_output_before_the_line_does_not_block_the_script() {
        // Far more than a pipe holds, on both streams, some of it not UTF-8.
        let script = r#"
            seq 1 200000 >&2
            seq 1 200000
            printf 'bad \377 byte\n'
            echo "TEST_READY {}"
            exec cat"#;
        let ready = spawn_until_ready(sh(script), &launch(PATIENT), []).unwrap();
        assert_eq!(ready.json, serde_json::json!({}));
    }

    #[test]
    fn a_failure_quotes_the_last_40_lines() {
        let err = spawn_until_ready(
            sh("echo to stderr >&2; seq 1 1000; printf 'bad \\377 byte\\n'; exit 1"),
            &launch(PATIENT),
            ["url"],
        )
        .unwrap_err();
        let NotReady::Exited { output, .. } = &err else {
            panic!("not an exit: {err:?}");
        };
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 40, "{output}");
        assert!(lines.contains(&"1000"), "{output}");
        assert!(lines.contains(&"bad \u{fffd} byte"), "{output}");
        assert!(!lines.contains(&"960"), "{output}");
    }
}
