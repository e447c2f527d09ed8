using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Inference;

public class TransformerSessionTests
{
    private static readonly int[] Tokens = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315];

    private static TransformerModel Stories() => ManagedModelLoader.LoadModel(TestPaths.Stories260K);

    private static float[] AllLogits(IModelSession session, int[] tokens)
    {
        var logits = new float[tokens.Length * session.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }

    private static void AssertMatchesNaive(TransformerModel model, int[] tokens)
    {
        double[][] expected = new NaiveTransformer(model.Weights).Logits(tokens);
        using var session = model.CreateSession();
        float[] actual = AllLogits(session, tokens);
        int vocab = model.Config.VocabSize;
        for (int t = 0; t < tokens.Length; t++)
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(expected[t][i] - actual[t * vocab + i]) < 1e-4 * Math.Max(1, Math.Abs(expected[t][i])),
                    $"position {t}, logit {i}: expected {expected[t][i]}, got {actual[t * vocab + i]}");
    }

    [Fact]
    public void Stories260K_matches_the_naive_double_precision_forward_pass()
    {
        using var model = Stories();
        Assert.True(model.Config.KvHeadCount < model.Config.HeadCount);   // exercises grouped-query attention
        AssertMatchesNaive(model, Tokens);
    }

    [Fact]
    public void Synthetic_model_with_separate_classifier_matches_the_naive_forward_pass()
    {
        using var dir = new TempDir();
        string path = dir.File("synth.bin");
        var config = new ModelConfig
        {
            Dim = 48, HiddenDim = 96, LayerCount = 3, HeadCount = 6, KvHeadCount = 2, VocabSize = 100,
            MaxSequenceLength = 32, SharedClassifier = false,
        };
        Llama2cCheckpointWriter.WriteRandom(path, config, seed: 5);
        using var model = ManagedModelLoader.LoadModel(path);
        Assert.False(model.Config.SharedClassifier);
        AssertMatchesNaive(model, [1, 5, 99, 42, 0, 7, 7, 63]);
    }

    [Fact]
    public void A_chunk_gives_the_same_logits_as_token_by_token()
    {
        using var model = Stories();
        using var chunked = model.CreateSession();
        float[] all = AllLogits(chunked, Tokens);
        int vocab = model.Config.VocabSize;

        using var stepwise = model.CreateSession();
        var last = new float[vocab];
        for (int t = 0; t < Tokens.Length; t++)
        {
            stepwise.Forward(Tokens.AsSpan(t, 1), t, last);
            Assert.Equal(all.AsSpan(t * vocab, vocab).ToArray(), last);
        }
        Assert.Equal(Tokens.Length, stepwise.Position);
    }

    [Fact]
    public void Rewinding_recomputes_from_the_earlier_position()
    {
        using var model = Stories();
        int vocab = model.Config.VocabSize;
        using var session = model.CreateSession();
        float[] reference = AllLogits(session, Tokens);

        // Continue with different tokens, then rewind to 6 and replay the original suffix.
        session.Forward([5, 6, 7], Tokens.Length, new float[vocab]);
        var replay = new float[(Tokens.Length - 6) * vocab];
        session.Forward(Tokens.AsSpan(6), 6, replay);
        Assert.Equal(reference.AsSpan(6 * vocab).ToArray(), replay);
        Assert.Equal(Tokens.Length, session.Position);
    }

    [Fact]
    public void Hidden_states_are_returned_on_request_and_feed_the_classifier()
    {
        using var model = Stories();
        var c = model.Config;
        using var session = model.CreateSession();
        var hidden = new float[Tokens.Length * c.Dim];
        var logits = new float[c.VocabSize];
        session.Forward(Tokens, 0, logits, hidden);
        var expected = new float[c.VocabSize];
        MlPipelines.ManagedEngine.Kernels.VectorOps.MatMul(expected, hidden.AsSpan((Tokens.Length - 1) * c.Dim), model.Weights.Classifier.Span, c.VocabSize, c.Dim);
        Assert.Equal(expected, logits);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_clear_errors()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        var c = model.Config;
        Assert.Throws<ArgumentException>(() => session.Forward([], 0, new float[c.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([1], 1, new float[c.VocabSize]));   // gap in the cache
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([c.VocabSize], 0, new float[c.VocabSize]));
        Assert.Throws<ArgumentException>(() => session.Forward([1], 0, new float[c.VocabSize + 1]));
        Assert.Throws<ArgumentException>(() => session.Forward(new int[c.MaxSequenceLength + 1], 0, default));
    }

    [Fact]
    public void Steady_state_decoding_allocates_nothing()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        var logits = new float[model.Config.VocabSize];
        session.Forward([1], 0, logits);   // warm up (JIT, first-call paths)
        Assert.Equal(0, Allocations.FewestBytes(i => session.Forward([(i + 1) % 500 + 3], i + 1, logits), steps: 60));
    }
}

public class ThreadCountTests
{
    [Fact]
    public void One_and_two_threads_give_identical_logits_and_tokens()
    {
        using var model = MlPipelines.ManagedEngine.Loading.ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        int[] prompt = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315];
        float[] Logits(int threads)
        {
            using var session = model.CreateTransformerSession(threads);
            var logits = new float[prompt.Length * model.Config.VocabSize];
            session.Forward(prompt, 0, logits);
            return logits;
        }
        Assert.Equal(Logits(1), Logits(2));

        int[] Story(int threads)
        {
            using var session = model.CreateTransformerSession(threads);
            return MlPipelines.ManagedEngine.Generation.Generator.Generate(session, [1],
                new MlPipelines.ManagedEngine.Generation.GenerationOptions { MaxSteps = 200, Sampling = new() { Temperature = 1f, Seed = 42 } }).Select(t => t.Id).ToArray();
        }
        Assert.Equal(Story(1), Story(2));
        Assert.Equal(Story(1), Story(3));
    }
}
