using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>Wraps a model and counts the work asked of it, to test laziness.</summary>
internal sealed class CountingModel(ILanguageModel inner) : ILanguageModel
{
    private int _rows, _sessions;

    public int RowsComputed => Volatile.Read(ref _rows);
    public int SessionsCreated => Volatile.Read(ref _sessions);
    public ModelConfig Config => inner.Config;

    public EngineDescription Description => inner.Description;

    public IModelSession CreateSession()
    {
        Interlocked.Increment(ref _sessions);
        return inner.CreateSession();
    }

    public BatchForwardResult ForwardBatch(IReadOnlyList<int[]> sequences, BatchOutputs outputs)
    {
        Interlocked.Add(ref _rows, sequences.Count);
        return inner.ForwardBatch(sequences, outputs);
    }

    public void Dispose() { }
}
