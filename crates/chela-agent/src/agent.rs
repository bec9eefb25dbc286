//! The agent loop: model round trips, tool calls, limits, persistence and audit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chela_audit::AuditLog;
use chela_store::Store;
use chela_types::{
    Actor, Decision, Event, EventKind, Message, Role, ToolCall, ToolSpec, Usage, Verdict,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use chela_guard::{Guard, InspectAction, Redactor};
use chela_policy::{ApprovalOutcome, LoopBreaker};

use crate::config::{AgentConfig, ProviderConfig};
use crate::kernel::{self, ApprovalResult, Kernel};
use crate::provider::{ModelReply, ModelRequest, Provider, ProviderError, ReplyObserver};
use crate::tools::{self, ToolContext, ToolOutcome};

/// What the loop reports while it works (for the terminal).
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// Streamed assistant text.
    TextDelta(String),
    /// The model's reply text is complete (before any tool calls it made).
    TextDone,
    /// A tool call is about to run (after being authorised).
    ToolStart {
        /// Tool name.
        name: String,
        /// One-line summary of the arguments.
        summary: String,
    },
    /// A tool call finished.
    ToolEnd {
        /// Tool name.
        name: String,
        /// One-line summary of the result.
        summary: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// A tool call was refused by policy.
    Refused {
        /// Tool name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Retries, fallbacks and other notices.
    Notice(String),
}

/// Receives [`AgentEvent`]s.
pub trait Progress {
    /// Called for every event.
    fn event(&mut self, ev: AgentEvent);
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The model gave a final answer.
    Completed(String),
    /// The task could not go on because an effect was refused (exit code 3).
    Refused {
        /// The model's final answer (may explain the refusal).
        answer: String,
        /// The refusals, for the user.
        refusals: Vec<String>,
    },
    /// A limit stopped the task.
    Limit(String),
    /// A tool could not run because the environment is unsafe (no sandbox): exit code 4.
    Unsafe {
        /// The model's final answer.
        answer: String,
        /// What was missing and how to fix it.
        reason: String,
    },
}

/// Errors that end a task.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The audit log could not be written; nothing more is done (fail closed).
    #[error("{0}")]
    Audit(String),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] chela_store::StoreError),
    /// The model misbehaved beyond recovery.
    #[error("{0}")]
    Model(String),
}

/// Everything an [`Agent`] is built from.
pub struct AgentParts {
    /// Provider settings (for audit labels).
    pub provider_cfg: ProviderConfig,
    /// The provider.
    pub provider: Provider,
    /// Limits.
    pub agent_cfg: AgentConfig,
    /// Tool context (workspace, sandbox).
    pub tools: ToolContext,
    /// Tools offered to the model (already filtered by policy).
    pub tool_names: Vec<String>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// The session store.
    pub store: Store,
    /// Session name.
    pub session: String,
    /// Who is driving (for audit).
    pub actor: Actor,
    /// Record redacted prompt content in the audit log.
    pub record_prompts: bool,
    /// The kernel: policy, approver and session state.
    pub kernel: Kernel,
    /// The guard: secrets and personal data never reach the model (CN-A4).
    pub guard: Arc<Guard>,
}

/// A running agent bound to one session.
pub struct Agent {
    p: AgentParts,
    specs: Vec<ToolSpec>,
    system: String,
    history: Vec<Message>,
    redactor: Redactor,
}

/// Forwards provider progress to the terminal and the audit log.
struct Observer<'a> {
    progress: &'a mut dyn Progress,
    audit: &'a AuditLog,
    session: &'a str,
    audit_error: Option<String>,
}

impl ReplyObserver for Observer<'_> {
    fn text_delta(&mut self, text: &str) {
        self.progress.event(AgentEvent::TextDelta(text.to_string()));
    }
    fn notice(&mut self, message: &str) {
        self.progress.event(AgentEvent::Notice(message.to_string()));
    }
    fn attempt(
        &mut self,
        model: &str,
        result: Result<&ModelReply, &ProviderError>,
        elapsed: Duration,
    ) {
        let kind = match result {
            Ok(r) => EventKind::ModelResponse {
                model: r.model.clone(),
                input_tokens: r.usage.input_tokens,
                output_tokens: r.usage.output_tokens,
                tool_calls: r.tool_calls.len() as u32,
                duration_ms: elapsed.as_millis() as u64,
            },
            Err(e) => EventKind::ModelError {
                model: model.to_string(),
                error: e.to_string(),
            },
        };
        if let Err(e) = self
            .audit
            .append(Event::new(Some(self.session), Actor::Agent, kind))
        {
            self.audit_error = Some(e.to_string());
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One-line, bounded summary of text for progress output.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut out: String = flat.chars().take(max).collect();
        out.push('…');
        out
    }
}

impl Agent {
    /// Builds an agent and loads the session's transcript.
    pub fn new(p: AgentParts) -> Result<Agent, AgentError> {
        let mut p = p;
        p.store.ensure_session(&p.session)?;
        let history = p.store.messages(&p.session)?;
        for source in p.store.taint(&p.session)? {
            p.kernel.state.taint.add(source);
        }
        let specs = tools::specs(&p.tool_names);
        let system = crate::prompt::system_prompt(p.tools.workspace.root(), &specs);
        Ok(Agent {
            p,
            specs,
            system,
            history,
            redactor: Redactor::new(),
        })
    }

    /// The session name.
    pub fn session(&self) -> &str {
        &self.p.session
    }

    /// Switches to another (possibly new) session.
    pub fn switch_session(&mut self, name: &str) -> Result<(), AgentError> {
        self.p.store.ensure_session(name)?;
        self.history = self.p.store.messages(name)?;
        self.p.session = name.to_string();
        self.p.kernel.state = chela_policy::SessionState::new();
        for source in self.p.store.taint(name)? {
            self.p.kernel.state.taint.add(source);
        }
        Ok(())
    }

    fn audit(&self, actor: Actor, kind: EventKind) -> Result<u64, AgentError> {
        self.p.audit.append(Event::new(Some(&self.p.session), actor, kind)).map_err(|e| {
            AgentError::Audit(format!("{e}; refusing to continue (NVDB-6). Fix the audit directory's permissions or free disk space"))
        })
    }

    fn persist(&mut self, new: &[Message]) -> Result<(), AgentError> {
        self.p.store.append_messages(&self.p.session, new)?;
        self.history.extend_from_slice(new);
        Ok(())
    }

    /// Runs one task to completion (final answer, refusal, or a limit).
    pub async fn run_task(
        &mut self,
        task: &str,
        progress: &mut dyn Progress,
    ) -> Result<TaskOutcome, AgentError> {
        let task = match self.guard_text(task, "user_task")? {
            Ok(t) => t,
            Err(summary) => {
                self.audit(
                    Actor::System,
                    EventKind::TaskFinished {
                        outcome: "refused".into(),
                        steps: 0,
                    },
                )?;
                return Ok(TaskOutcome::Refused {
                    answer: String::new(),
                    refusals: vec![format!("task: {summary}")],
                });
            }
        };
        let user = Message::text(Role::User, task);
        self.persist(std::slice::from_ref(&user))?;
        let mut usage = Usage::default();
        let mut refusals: Vec<String> = Vec::new();
        let mut exec_refused = false;
        let mut empty_replies = 0u32;
        let mut steps = 0u32;
        let mut breaker = LoopBreaker::new(self.p.kernel.policy.limits());
        let outcome = loop {
            if steps >= self.p.agent_cfg.max_steps {
                break TaskOutcome::Limit(format!(
                    "stopped after {steps} model round trips (agent.max_steps = {}); raise it in config.toml or split the task",
                    self.p.agent_cfg.max_steps
                ));
            }
            steps += 1;
            let reply = self.model_round(progress).await?;
            usage.add(reply.usage);
            progress.event(AgentEvent::TextDone);

            if reply.text.trim().is_empty() && reply.tool_calls.is_empty() {
                empty_replies += 1;
                if empty_replies >= 3 {
                    return Err(AgentError::Model(
                        "the model returned an empty reply 3 times in a row".into(),
                    ));
                }
                self.persist(&[Message::text(
                    Role::User,
                    "[chela] Your last reply was empty. Continue the task: call a tool, or give your final answer.",
                )])?;
                continue;
            }
            empty_replies = 0;
            // What the model wrote goes back to the provider with the next request and into the
            // transcript: secrets it repeats (e.g. in tool arguments) are masked there, while the
            // calls themselves are judged and run as proposed.
            let mut assistant = Message::text(
                Role::Assistant,
                self.p.guard.redact_all(&reply.text, &mut self.redactor),
            );
            assistant.tool_calls = reply
                .tool_calls
                .iter()
                .map(|c| ToolCall {
                    arguments: self.p.guard.redact_all(&c.arguments, &mut self.redactor),
                    ..c.clone()
                })
                .collect();
            if reply.tool_calls.is_empty() {
                self.persist(&[assistant])?;
                break if let (Err(why), true) = (&self.p.tools.sandbox, exec_refused) {
                    TaskOutcome::Unsafe {
                        answer: reply.text,
                        reason: format!(
                            "exec was refused because the sandbox is unavailable: {why}"
                        ),
                    }
                } else if refusals.is_empty() {
                    TaskOutcome::Completed(reply.text)
                } else {
                    TaskOutcome::Refused {
                        answer: reply.text,
                        refusals,
                    }
                };
            }
            let mut batch = vec![assistant];
            let mut tripped: Option<chela_policy::LoopTrip> = None;
            for call in &reply.tool_calls {
                let outcome = match (&tripped, breaker.before_call(&call.name, &call.arguments)) {
                    (Some(t), _) => ToolOutcome::error(t.message_for_model.clone()),
                    (None, Err(t)) => {
                        let o = ToolOutcome::error(t.message_for_model.clone());
                        tripped = Some(t);
                        o
                    }
                    (None, Ok(())) => {
                        exec_refused |= call.name == "exec" && self.p.tools.sandbox.is_err();
                        let o = self.handle_call(call, progress, &mut refusals).await?;
                        if let Err(t) =
                            breaker.after_call(&call.name, &call.arguments, o.is_error, o.bytes)
                        {
                            tripped = Some(t);
                        }
                        o
                    }
                };
                // Every result (including refusal messages that quote the call) is masked before it
                // can reach the provider or the transcript.
                let content = self
                    .p
                    .guard
                    .redact_all(&outcome.content, &mut self.redactor);
                batch.push(Message::tool_result(call.id.clone(), content));
            }
            self.persist(&batch)?;
            if let Some(t) = tripped {
                self.audit(
                    Actor::System,
                    EventKind::Alert {
                        rule: t.rule.clone(),
                        message: t.message_for_user.clone(),
                        severity: "warning".into(),
                    },
                )?;
                progress.event(AgentEvent::Notice(t.message_for_user.clone()));
                break TaskOutcome::Limit(t.message_for_user);
            }

            if let Some(limit) = self.budget_exceeded(&usage) {
                break TaskOutcome::Limit(limit);
            }
        };
        let label = match &outcome {
            TaskOutcome::Completed(_) => "completed",
            TaskOutcome::Refused { .. } => "refused",
            TaskOutcome::Limit(_) => "limit",
            TaskOutcome::Unsafe { .. } => "unsafe",
        };
        if let TaskOutcome::Limit(why) = &outcome {
            self.audit(
                Actor::System,
                EventKind::Alert {
                    rule: "agent.limit".into(),
                    message: why.clone(),
                    severity: "warning".into(),
                },
            )?;
        }
        self.audit(
            Actor::System,
            EventKind::TaskFinished {
                outcome: label.into(),
                steps,
            },
        )?;
        Ok(outcome)
    }

    fn budget_exceeded(&self, usage: &Usage) -> Option<String> {
        let total = usage.input_tokens + usage.output_tokens;
        if total > self.p.agent_cfg.max_tokens_per_task {
            return Some(format!(
                "token budget exhausted: {total} tokens used, agent.max_tokens_per_task = {} (OWASP LLM10)",
                self.p.agent_cfg.max_tokens_per_task
            ));
        }
        if let (Some(max), Some(pi), Some(po)) = (
            self.p.agent_cfg.max_cost_usd,
            self.p.provider_cfg.input_price_per_mtok,
            self.p.provider_cfg.output_price_per_mtok,
        ) {
            let cost = usage.input_tokens as f64 * pi / 1e6 + usage.output_tokens as f64 * po / 1e6;
            if cost > max {
                return Some(format!("cost budget exhausted: ${cost:.4} spent, agent.max_cost_usd = {max} (OWASP LLM10)"));
            }
        }
        None
    }

    async fn model_round(&mut self, progress: &mut dyn Progress) -> Result<ModelReply, AgentError> {
        let req = ModelRequest {
            system: &self.system,
            messages: &self.history,
            tools: &self.specs,
        };
        let prompt_bytes =
            serde_json::to_vec(&(req.system, req.messages, req.tools)).unwrap_or_default();
        let content = self
            .p
            .record_prompts
            .then(|| String::from_utf8_lossy(&prompt_bytes).into_owned());
        self.audit(
            Actor::Agent,
            EventKind::ModelRequest {
                provider: self.p.provider.kind().as_str().into(),
                model: self.p.provider.model().into(),
                prompt_sha256: sha256_hex(&prompt_bytes),
                messages: self.history.len() as u32 + 1,
                content,
            },
        )?;
        let mut obs = Observer {
            progress,
            audit: &self.p.audit,
            session: &self.p.session,
            audit_error: None,
        };
        let result = self.p.provider.complete(req, &mut obs).await;
        if let Some(e) = obs.audit_error {
            return Err(AgentError::Audit(e));
        }
        Ok(result?)
    }

    /// Validates, authorises, executes and audits one tool call.
    async fn handle_call(
        &mut self,
        call: &ToolCall,
        progress: &mut dyn Progress,
        refusals: &mut Vec<String>,
    ) -> Result<ToolOutcome, AgentError> {
        self.audit(
            Actor::Agent,
            EventKind::ToolProposed {
                call_id: call.id.clone(),
                tool: call.name.clone(),
                arguments: call.arguments.clone(),
            },
        )?;
        if !self.p.tool_names.iter().any(|n| n == &call.name) {
            let msg = format!(
                "there is no tool named {:?}; the available tools are: {}",
                call.name,
                self.p.tool_names.join(", ")
            );
            progress.event(AgentEvent::ToolEnd {
                name: call.name.clone(),
                summary: msg.clone(),
                is_error: true,
            });
            return Ok(ToolOutcome::error(msg));
        }
        let args: Value = match serde_json::from_str(if call.arguments.trim().is_empty() {
            "{}"
        } else {
            &call.arguments
        }) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Ok(self.malformed(
                    call,
                    progress,
                    "the arguments must be a JSON object".into(),
                ))
            }
            Err(e) => {
                return Ok(self.malformed(
                    call,
                    progress,
                    format!("the arguments are not valid JSON ({e})"),
                ))
            }
        };
        let effect = match kernel::effect_for(
            &call.name,
            &args,
            &self.p.tools.workspace,
            &self.p.kernel.policy,
            &self.p.guard,
        ) {
            Ok(e) => e,
            Err(why) => return Ok(self.malformed(call, progress, why)),
        };
        if let Err(refusal) = self.decide(call, &effect).await? {
            progress.event(AgentEvent::Refused {
                name: call.name.clone(),
                reason: refusal.clone(),
            });
            refusals.push(format!("{}: {refusal}", call.name));
            return Ok(ToolOutcome::error(format!(
                "refused by Chela's policy: {refusal}. Do not try to work around this; tell the user what you could not do."
            )));
        }
        progress.event(AgentEvent::ToolStart {
            name: call.name.clone(),
            summary: one_line(&call.arguments, 120),
        });
        self.audit(
            Actor::Agent,
            EventKind::ToolStarted {
                call_id: call.id.clone(),
                tool: call.name.clone(),
            },
        )?;
        let started = Instant::now();
        let mut outcome = tools::execute(&self.p.tools, &call.name, &args).await;
        outcome.content =
            match self.guard_text(&outcome.content, &format!("tool_output:{}", call.name))? {
                Ok(t) => t,
                Err(summary) => format!(
                    "error: the output of {} was withheld by Chela's guard: {summary}",
                    call.name
                ),
            };
        if outcome.untrusted {
            outcome.content = self.receive_untrusted(&effect, outcome.content)?;
        }
        self.audit(
            Actor::Agent,
            EventKind::ToolFinished {
                call_id: call.id.clone(),
                tool: call.name.clone(),
                exit_code: outcome.exit_code,
                duration_ms: started.elapsed().as_millis() as u64,
                bytes: outcome.bytes,
                output_sha256: sha256_hex(outcome.content.as_bytes()),
                error: outcome.is_error.then(|| one_line(&outcome.content, 200)),
            },
        )?;
        progress.event(AgentEvent::ToolEnd {
            name: call.name.clone(),
            summary: one_line(&outcome.content, 100),
            is_error: outcome.is_error,
        });
        Ok(outcome)
    }

    fn malformed(&self, call: &ToolCall, progress: &mut dyn Progress, why: String) -> ToolOutcome {
        let msg = format!(
            "{why}; call {} again with a JSON object matching its schema",
            call.name
        );
        progress.event(AgentEvent::ToolEnd {
            name: call.name.clone(),
            summary: msg.clone(),
            is_error: true,
        });
        ToolOutcome::error(msg)
    }

    /// Asks the kernel about `effect`; routes "needs approval" to the approver. Every decision,
    /// approval request and answer is audited. `Ok(Err(reason))` means refused.
    async fn decide(
        &mut self,
        call: &ToolCall,
        effect: &chela_policy::Effect,
    ) -> Result<Result<Decision, String>, AgentError> {
        let policy = self.p.kernel.policy.clone();
        let decision = policy.authorize(effect, &mut self.p.kernel.state);
        self.audit(
            Actor::System,
            EventKind::PolicyDecision {
                call_id: call.id.clone(),
                tool: call.name.clone(),
                decision: decision.clone(),
            },
        )?;
        let describe =
            |d: &Decision| format!("{} [rule {}; {}]", d.reason, d.rule, d.guidance.join(", "));
        match decision.verdict {
            Verdict::Allow => return Ok(Ok(decision)),
            Verdict::Deny => return Ok(Err(describe(&decision))),
            Verdict::NeedsApproval => {}
        }
        self.audit(
            Actor::System,
            EventKind::ApprovalRequested {
                call_id: call.id.clone(),
                summary: effect.summary(),
                rule: decision.rule.clone(),
            },
        )?;
        let asked = kernel::ask(
            policy.clone(),
            self.p.kernel.approver.clone(),
            effect,
            &decision,
            &call.id,
        )
        .await;
        match asked {
            ApprovalResult::NotAsked => Ok(Err(describe(&decision))),
            ApprovalResult::Asked(ApprovalOutcome::Denied { approver, reason }) => {
                self.audit(
                    Actor::System,
                    EventKind::ApprovalDenied {
                        call_id: call.id.clone(),
                        approver: approver.clone(),
                        reason: reason.clone(),
                    },
                )?;
                Ok(Err(format!(
                    "{} — approval refused by {approver}: {reason}",
                    describe(&decision)
                )))
            }
            ApprovalResult::Asked(ApprovalOutcome::Granted(approval)) => {
                let approver = approval.approver.clone();
                self.audit(
                    Actor::Owner {
                        user: approver.clone(),
                    },
                    EventKind::ApprovalGranted {
                        call_id: call.id.clone(),
                        approver,
                        scope: approval.scope.as_str().into(),
                    },
                )?;
                self.p.kernel.state.grant(approval);
                let after = policy.authorize(effect, &mut self.p.kernel.state);
                self.audit(
                    Actor::System,
                    EventKind::PolicyDecision {
                        call_id: call.id.clone(),
                        tool: call.name.clone(),
                        decision: after.clone(),
                    },
                )?;
                if after.verdict == Verdict::Allow {
                    Ok(Ok(after))
                } else {
                    Ok(Err(describe(&after)))
                }
            }
        }
    }

    /// Inspects `text` found at `location`: `Ok(Ok(text))` to use (possibly redacted),
    /// `Ok(Err(summary))` when it must not go on. Every hit is audited (never the value).
    fn guard_text(
        &mut self,
        text: &str,
        location: &str,
    ) -> Result<Result<String, String>, AgentError> {
        let insp = self
            .p
            .guard
            .inspect_with(text, location, &mut self.redactor);
        for hit in &insp.hits {
            self.audit(Actor::System, EventKind::GuardHit(hit.clone()))?;
        }
        Ok(match insp.action {
            InspectAction::Pass => Ok(text.to_string()),
            InspectAction::Redacted(t) => Ok(t),
            InspectAction::Blocked { summary } => Err(summary),
        })
    }

    /// Untrusted content (a fetched page): screens it for injection, wraps it in the untrusted
    /// envelope, taints the session and records the contacted host.
    fn receive_untrusted(
        &mut self,
        effect: &chela_policy::Effect,
        content: String,
    ) -> Result<String, AgentError> {
        let (source, host) = match effect {
            chela_policy::Effect::Fetch { url, host, .. } => {
                (format!("web_fetch:{url}"), host.clone())
            }
            other => (other.kind().to_string(), String::new()),
        };
        if !host.is_empty() {
            self.p.kernel.state.record_contact(&host);
        }
        let report = chela_guard::screen_untrusted(&content);
        if report.is_high() {
            self.audit(
                Actor::System,
                EventKind::Alert {
                    rule: "guard.injection".into(),
                    message: format!(
                        "content from {source} looks like a prompt injection (score {}, {})",
                        report.score,
                        report.level()
                    ),
                    severity: "warning".into(),
                },
            )?;
        }
        self.taint(&source)?;
        Ok(chela_guard::wrap_untrusted(&source, &content, &report))
    }

    /// Marks the session tainted by untrusted content from `source` (rule of two).
    pub fn taint(&mut self, source: &str) -> Result<(), AgentError> {
        if self
            .p
            .kernel
            .state
            .taint
            .sources
            .iter()
            .any(|s| s == source)
        {
            return Ok(());
        }
        self.p.kernel.state.taint.add(source);
        self.p.store.add_taint(&self.p.session, source)?;
        self.audit(
            Actor::System,
            EventKind::Tainted {
                source: source.to_string(),
            },
        )?;
        Ok(())
    }
}
