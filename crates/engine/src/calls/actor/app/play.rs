//! Playing to an application call and collecting its keys: items become
//! one audio source at the caller's rate; digits feed a collect in progress.

use super::*;

impl Call {
    /// Builds the items into one source at the caller's rate and starts it.
    pub(in crate::calls::actor) fn start_play(
        &mut self,
        items: &[PlayItem],
        looped: bool,
    ) -> Result<u64, CallError> {
        let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
        let source: Box<dyn AudioSource> = if looped {
            Box::new(self.looped_source(items, rate)?)
        } else {
            let mut parts: Vec<Box<dyn AudioSource>> = Vec::new();
            for item in items {
                parts.push(self.item_source(item, rate)?);
            }
            Box::new(Sequence::new(parts))
        };
        let app = self.app_state();
        app.next_token += 1;
        let token = app.next_token;
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Source { source, token });
        }
        Ok(token)
    }

    pub(in crate::calls::actor) fn looped_source(
        &self,
        items: &[PlayItem],
        rate: u32,
    ) -> Result<media::player::Player, CallError> {
        let mut pcm = Vec::new();
        for item in items {
            for path in self.item_files(item)? {
                pcm.push(self.load(&path, rate)?);
            }
        }
        media::player::Player::new(pcm, rate, true).map_err(|e| CallError::Media(e.to_string()))
    }

    pub(in crate::calls::actor) fn load(
        &self,
        path: &std::path::Path,
        rate: u32,
    ) -> Result<Arc<media::audio_file::Pcm>, CallError> {
        self.ctx
            .audio_cache
            .load(path, rate)
            .map_err(|e| CallError::Media(e.to_string()))
    }

    /// The files an item stands for (prompts and spoken digits).
    pub(in crate::calls::actor) fn item_files(
        &self,
        item: &PlayItem,
    ) -> Result<Vec<std::path::PathBuf>, CallError> {
        let cfg = &self.ctx.cfg.media;
        let prompt = |name: &str| {
            cfg.sounds_dir
                .join(&cfg.language)
                .join(format!("{name}.wav"))
        };
        Ok(match item {
            PlayItem::File(p) => vec![p.clone()],
            PlayItem::Prompt(name) => {
                if name.contains("..") {
                    return Err(CallError::Media(format!("bad prompt name {name}")));
                }
                vec![prompt(name)]
            }
            PlayItem::SayDigits(digits) => digits
                .chars()
                .filter_map(|c| crate::calls::ports::digit_prompt(c).map(|n| prompt(&n)))
                .collect(),
            _ => {
                return Err(CallError::Media(
                    "only files and prompts can be looped".into(),
                ))
            }
        })
    }

    pub(in crate::calls::actor) fn item_source(
        &self,
        item: &PlayItem,
        rate: u32,
    ) -> Result<Box<dyn AudioSource>, CallError> {
        Ok(match item {
            PlayItem::Tone(kind, ms) => {
                let plan = self
                    .ctx
                    .cfg
                    .tone_plan()
                    .map_err(|e| CallError::Media(e.to_string()))?;
                let gen = media::tones::ToneGenerator::new(plan.spec(*kind), rate);
                Box::new(Limited::new(gen, rate, *ms))
            }
            PlayItem::Sine(hz, ms) => {
                let spec = media::tones::ToneSpec {
                    freqs: vec![*hz],
                    cadence: Vec::new(),
                    level_dbov: -10.0,
                };
                let gen = media::tones::ToneGenerator::new(&spec, rate);
                Box::new(Limited::new(gen, rate, *ms))
            }
            PlayItem::Silence(ms) => Box::new(Limited::new(Silence, rate, *ms)),
            other => {
                let mut pcm = Vec::new();
                for path in self.item_files(other)? {
                    pcm.push(self.load(&path, rate)?);
                }
                Box::new(
                    media::player::Player::new(pcm, rate, false)
                        .map_err(|e| CallError::Media(e.to_string()))?,
                )
            }
        })
    }

    pub(in crate::calls::actor) fn start_collect(
        &mut self,
        items: Vec<PlayItem>,
        spec: CollectSpec,
        reply: oneshot::Sender<Result<Collected, CallError>>,
    ) {
        let typed_ahead = !self.app_state().digits.is_empty();
        let token = if typed_ahead || items.is_empty() {
            None
        } else {
            match self.start_play(&items, false) {
                Ok(t) => Some(t),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            }
        };
        let app = self.app_state();
        app.op = Some(Op::Collect {
            token,
            spec: spec.clone(),
            got: String::new(),
            reply,
        });
        if token.is_none() {
            app.deadline = Some(Instant::now() + spec.timeout);
        }
        // Keys typed ahead count first.
        while let Some(d) = self.app_state().digits.pop_front() {
            if self.collect_digit(d) {
                break;
            }
        }
    }

    /// Feeds one digit to a collect in progress; true if it finished it.
    pub(in crate::calls::actor) fn collect_digit(&mut self, d: char) -> bool {
        let app = self.app_state();
        let Some(Op::Collect {
            token, spec, got, ..
        }) = &mut app.op
        else {
            return false;
        };
        let stop_prompt = token.take().is_some();
        let done = if spec.terminators.contains(d) {
            Some(Some(d))
        } else {
            got.push(d);
            (got.chars().count() >= spec.max).then_some(None)
        };
        if done.is_none() {
            app.deadline = Some(Instant::now() + spec.inter_digit);
        }
        if stop_prompt {
            if let Some(s) = self.media.session() {
                s.hear(Side::A, Hears::Silence);
            }
        }
        match done {
            Some(terminator) => {
                self.finish_collect(terminator);
                true
            }
            None => false,
        }
    }

    pub(in crate::calls::actor) fn finish_collect(&mut self, terminator: Option<char>) {
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Collect {
            spec, got, reply, ..
        }) = app.op.take()
        {
            let result = if got.chars().count() >= spec.min {
                Ok(Collected {
                    digits: got,
                    terminator,
                })
            } else {
                Err(CallError::Timeout)
            };
            let _ = reply.send(result);
        }
    }
}
