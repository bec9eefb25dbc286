//! Chela's persistent state.
//!
//! The only crate that touches SQLite (DESIGN.md). It keeps named sessions and their transcripts
//! so `chela run --session NAME` and `chela chat` continue a conversation across restarts. The
//! database file is created mode 0600 inside `$CHELA_HOME`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chela_types::{Message, Role, ToolCall};
use rusqlite::{params, Connection, OptionalExtension};

/// Schema version stored in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 2;

/// Errors from the store. Messages name the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("session database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        source: rusqlite::Error,
    },
    /// The database file could not be created.
    #[error("session database {path}: {source}")]
    Io {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The database was written by a newer Chela.
    #[error("session database {path} has schema version {found}, newer than this Chela supports ({SCHEMA_VERSION}); upgrade Chela")]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version found.
        found: i64,
    },
    /// A stored row could not be decoded.
    #[error("session database {path}: corrupt row in session {session:?}: {detail}")]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// Session name.
        session: String,
        /// What was wrong.
        detail: String,
    },
    /// No such session.
    #[error("no session named {0:?} (see `chela sessions list`)")]
    NoSuchSession(String),
}

/// Summary of one session, for `chela sessions list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session name.
    pub name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Last update time, seconds since the Unix epoch.
    pub updated: u64,
    /// Number of stored messages.
    pub messages: u64,
}

/// An open session database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    Some(match s {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        _ => return None,
    })
}

impl Store {
    /// Opens (creating if needed, mode 0600) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS sessions (
                     name TEXT PRIMARY KEY,
                     created INTEGER NOT NULL,
                     updated INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS messages (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     session TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
                     role TEXT NOT NULL,
                     content TEXT NOT NULL,
                     tool_calls TEXT NOT NULL DEFAULT '[]',
                     tool_call_id TEXT,
                     created INTEGER NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS messages_by_session ON messages(session, id);
                 CREATE TABLE IF NOT EXISTS taint (
                     session TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
                     source TEXT NOT NULL,
                     created INTEGER NOT NULL,
                     PRIMARY KEY (session, source)
                 );
                 PRAGMA user_version = 2;
                 COMMIT;",
            )
            .map_err(sql)?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Creates the session if it does not exist; returns true when it was created.
    pub fn ensure_session(&self, name: &str) -> Result<bool, StoreError> {
        let t = now() as i64;
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO sessions(name, created, updated) VALUES (?1, ?2, ?2)",
                params![name, t],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// True when a session with this name exists.
    pub fn session_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sessions WHERE name = ?1",
                params![name],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.sql(e))
    }

    /// Appends messages to a session's transcript in one transaction.
    pub fn append_messages(
        &mut self,
        session: &str,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let t = now() as i64;
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO messages(session, role, content, tool_calls, tool_call_id, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql)?;
            for m in messages {
                let calls = serde_json::to_string(&m.tool_calls).unwrap_or_else(|_| "[]".into());
                stmt.execute(params![
                    session,
                    role_str(m.role),
                    m.content,
                    calls,
                    m.tool_call_id,
                    t
                ])
                .map_err(sql)?;
            }
        }
        tx.execute(
            "UPDATE sessions SET updated = ?2 WHERE name = ?1",
            params![session, t],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The whole transcript of a session, oldest first.
    pub fn messages(&self, session: &str) -> Result<Vec<Message>, StoreError> {
        if !self.session_exists(session)? {
            return Err(StoreError::NoSuchSession(session.to_string()));
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT role, content, tool_calls, tool_call_id FROM messages
                 WHERE session = ?1 ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![session], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (role, content, calls, tool_call_id) = row.map_err(|e| self.sql(e))?;
            let corrupt = |detail: String| StoreError::Corrupt {
                path: self.path.clone(),
                session: session.to_string(),
                detail,
            };
            let role =
                parse_role(&role).ok_or_else(|| corrupt(format!("unknown role {role:?}")))?;
            let tool_calls: Vec<ToolCall> =
                serde_json::from_str(&calls).map_err(|e| corrupt(format!("tool_calls: {e}")))?;
            out.push(Message {
                role,
                content,
                tool_calls,
                tool_call_id,
            });
        }
        Ok(out)
    }

    /// Records that untrusted content from `source` entered the session (kept across restarts:
    /// the transcript still holds that content when the session is continued).
    pub fn add_taint(&self, session: &str, source: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO taint(session, source, created) VALUES (?1, ?2, ?3)",
                params![session, source, now() as i64],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// The untrusted sources recorded for a session, oldest first.
    pub fn taint(&self, session: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT source FROM taint WHERE session = ?1 ORDER BY created, source")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![session], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// All sessions, most recently updated first.
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.name, s.created, s.updated,
                        (SELECT COUNT(*) FROM messages m WHERE m.session = s.name)
                 FROM sessions s ORDER BY s.updated DESC, s.name",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionInfo {
                    name: r.get(0)?,
                    created: r.get::<_, i64>(1)?.max(0) as u64,
                    updated: r.get::<_, i64>(2)?.max(0) as u64,
                    messages: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let mut s = Store::open(&path).unwrap();
            assert!(s.ensure_session("work").unwrap());
            assert!(!s.ensure_session("work").unwrap());
            let mut m = Message::text(Role::Assistant, "");
            m.tool_calls.push(ToolCall {
                id: "c1".into(),
                name: "exec".into(),
                arguments: "{}".into(),
            });
            s.append_messages("work", &[Message::text(Role::User, "hi"), m])
                .unwrap();
            s.append_messages("work", &[Message::tool_result("c1", "ok")])
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let msgs = s.messages("work").unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1].tool_calls[0].name, "exec");
        assert_eq!(msgs[2].tool_call_id.as_deref(), Some("c1"));
        s.add_taint("work", "web_fetch:https://example.org/")
            .unwrap();
        s.add_taint("work", "web_fetch:https://example.org/")
            .unwrap();
        assert_eq!(
            s.taint("work").unwrap(),
            vec!["web_fetch:https://example.org/".to_string()]
        );
        let list = s.list_sessions().unwrap();
        assert_eq!(list[0].name, "work");
        assert_eq!(list[0].messages, 3);
        let mode = std::fs::metadata(&path).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    #[test]
    fn missing_session_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        let err = s.messages("nope").unwrap_err().to_string();
        assert!(err.contains("no session named \"nope\""), "{err}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
