//! Everyday `app.bsky` helpers of the agent (work in progress).
