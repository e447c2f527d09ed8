namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// A loaded language model, whatever engine runs it. This is the seam both engines implement
/// (see DESIGN.md): generation, embedding, sampling and parity code are written against it once.
/// </summary>
/// <remarks>
/// A model is shared by threads: its sessions and <see cref="ForwardBatch"/> may run concurrently, each giving exactly
/// what it gives alone. Disposing it while other threads are mid-call is safe: calls in flight finish on intact memory
/// (both engines count them with an <see cref="InFlightGate"/> and release the weights or native session after the last),
/// and every later call throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public interface ILanguageModel : IDisposable
{
    /// <summary>The model's shape and numeric settings.</summary>
    ModelConfig Config { get; }

    /// <summary>The engine, provider, precision, threads and model source, so no caller needs the concrete type.</summary>
    EngineDescription Description { get; }

    /// <summary>
    /// Creates a decoder session with its own KV cache. Sessions of one model may run on
    /// different threads at the same time; a single session is not thread-safe.
    /// </summary>
    IModelSession CreateSession();

    /// <summary>
    /// Runs independent sequences from position 0 (no cache kept) and returns each one's outputs,
    /// exactly as if it ran alone. Engines process the rows together as they can (ONNX Runtime: one
    /// padded run with an attention mask; the managed engine: rows in parallel).
    /// </summary>
    BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs);
}

/// <summary>
/// Decoder state for one sequence: the KV cache and the buffers a forward pass needs, allocated
/// once when the session is created so that steady-state decoding allocates nothing.
/// </summary>
public interface IModelSession : IDisposable
{
    /// <summary>The model configuration this session runs.</summary>
    ModelConfig Config { get; }

    /// <summary>Number of positions currently held in the KV cache (the next position to write).</summary>
    int Position { get; }

    /// <summary>
    /// Runs a chunk of tokens through the model at positions
    /// <c>position .. position + tokens.Length - 1</c> and stores their keys and values in the cache.
    /// </summary>
    /// <param name="tokens">The token ids of the chunk (at least one).</param>
    /// <param name="position">
    /// Where the chunk starts. It may be at most <see cref="Position"/>: a smaller value rewinds,
    /// discarding what the cache held from there on.
    /// </param>
    /// <param name="logits">
    /// Receives logits: empty for none, <c>VocabSize</c> floats for the last position only, or
    /// <c>tokens.Length * VocabSize</c> floats for every position of the chunk (row-major).
    /// </param>
    /// <param name="hiddenStates">
    /// Receives the final hidden states (after the last RMSNorm, before the classifier): empty for
    /// none, or <c>tokens.Length * Dim</c> floats (row-major).
    /// </param>
    void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default);

    /// <summary>Discards cache contents from <paramref name="position"/> on.</summary>
    void Rewind(int position);

    /// <summary>Empties the cache (same as <c>Rewind(0)</c>).</summary>
    void Reset();
}
