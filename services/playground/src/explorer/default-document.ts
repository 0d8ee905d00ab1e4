/** What a first visit shows: one document with an operation per task; ▶ asks which one to run. */
export const DEFAULT_DOCUMENT = /* GraphQL */ `# DiffuseVAE GraphQL explorer
#
# Every request needs an API key: the link \`npm start\` prints (/graphql#key=dvae_…) fills in the
# Headers tab below with {"Authorization": "Bearer dvae_…"}; or paste one there yourself.
# Operators create keys with \`npm run keys -- create --name NAME\`.
#
# Run an operation with ▶ (or Ctrl/Cmd+Enter with the cursor in it). Ctrl+Space completes,
# and the Docs panel (left) lists every type and field of the schema.

# 1. The model sets the platform serves (a job's input.model picks one; the default when left out).
query Models {
  models {
    name
    default
    formulation
    noiseConditioning
    dataset
    resolution
    channels
    latentDim
    numTrainTimesteps
  }
}

# 2. Start a job without waiting for it: the job comes back QUEUED with its id.
#    Put that id in the Variables tab ({"id": "…"}) for JobProgress and Job below.
#    (wait: true, the default, answers once the images are ready.)
mutation Generate {
  generate(input: { count: 4, seed: 42, sampler: { kind: DDIM, steps: 20 }, wait: false }) {
    id
    status
    queuePosition
  }
}

# 3. Follow a job: progress events (step, ETA, an x̂₀ preview), then the final job; over a WebSocket.
subscription JobProgress($id: ID!) {
  jobProgress(id: $id) {
    status
    progress { step steps etaMs }
    job { id status error errorCode images { width height } }
  }
}

# 4. One job, with its images as base64 PNG (long: ask for png once you need it).
query Job($id: ID!) {
  job(id: $id) {
    id
    kind
    status
    attempts
    createdAt
    finishedAt
    manifest
    images { width height }
  }
}

# 5. The jobs of this key, newest first; pass pageInfo.endCursor as after for the next page.
query Jobs {
  jobs(first: 10) {
    edges { node { id kind status createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}

# 6. Which services are up.
query Health {
  health { status version mode uptimeSeconds services { name instances } }
}
`;

export const DEFAULT_VARIABLES = `{
  "id": "paste a job id here"
}
`;
