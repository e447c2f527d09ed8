using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.OnnxEngine.Tests.Parity;

/// <summary>
/// Wraps a model and, at one position only, raises one token's logit far above the rest: a controlled
/// disagreement whose effect on the greedy continuation is known exactly.
/// </summary>
internal sealed class BiasedModel(ILanguageModel inner, int position, int token, float bias) : ILanguageModel
{
    public ModelConfig Config => inner.Config;

    public EngineDescription Description => inner.Description;

    public IModelSession CreateSession() => new Session(inner.CreateSession(), position, token, bias);

    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs) => inner.ForwardBatch(sequences, outputs);

    public void Dispose() { }   // the inner model belongs to the caller

    private sealed class Session(IModelSession inner, int biasedPosition, int token, float bias) : IModelSession
    {
        public ModelConfig Config => inner.Config;
        public int Position => inner.Position;

        public void Forward(ReadOnlySpan<int> tokens, int position, Span<float> logits, Span<float> hiddenStates = default)
        {
            inner.Forward(tokens, position, logits, hiddenStates);
            int vocab = Config.VocabSize;
            int rows = logits.Length / vocab;
            int last = position + tokens.Length - 1;
            // Row r of the output belongs to position last - rows + 1 + r (one row: the last position).
            int row = biasedPosition - (last - rows + 1);
            if (row >= 0 && row < rows)
                logits[row * vocab + token] += bias;
        }

        public void Rewind(int position) => inner.Rewind(position);
        public void Reset() => inner.Reset();
        public void Dispose() => inner.Dispose();
    }
}
