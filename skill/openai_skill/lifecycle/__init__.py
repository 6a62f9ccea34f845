"""Model lifecycle: which models OpenAI shuts down when, what replaces them, and what the
skill does about it before anything is sent.

- `table`: skill.yaml's `lifecycle` section as a table (pure: data and a date in, answers out);
- `learned`: the shutdown dates each origin's own GET /models announced, kept in a small
  cache in the config folder (they win over the table for that origin);
- `choice`: the model a call uses (the user's, the user's default setting, or the skill's
  default in force that day) and the refusal or warning it gets.

Read once per call from local data: no lifecycle check ever touches the network.
"""
