using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Generation;

public class GeneratorTests
{
    private static TransformerModel Stories() => ManagedModelLoader.LoadModel(TestPaths.Stories260K);

    [Fact]
    public void Steps_count_positions_including_the_prompt_as_run_c_does()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        int[] prompt = [1, 403, 407, 261];
        var tokens = Generator.Generate(session, prompt, new GenerationOptions { MaxSteps = 10, Sampling = SamplingOptions.Greedy }).ToList();
        Assert.Equal(10, tokens.Count);
        Assert.Equal([403, 407, 261], tokens.Take(3).Select(t => t.Id));
        Assert.All(tokens.Take(3), t => Assert.True(t.IsPrompt));
        Assert.All(tokens.Skip(3), t => Assert.False(t.IsPrompt));
        Assert.Equal(tokens.Select(t => t.Id).SkipLast(1), tokens.Skip(1).Select(t => t.Previous));

        // Fewer steps than prompt tokens: only the prompt is replayed, nothing sampled.
        var shortRun = Generator.Generate(session, prompt, new GenerationOptions { MaxSteps = 2 }).ToList();
        Assert.Equal([403, 407], shortRun.Select(t => t.Id));
    }

    [Fact]
    public void Any_of_the_model_s_stop_ids_ends_the_generation()
    {
        using var model = Stories();
        var greedy = new GenerationOptions { MaxSteps = 40, Sampling = SamplingOptions.Greedy };
        int[] story;
        using (var session = model.CreateSession())
            story = Generator.Generate(session, [1], greedy).Select(t => t.Id).ToArray();
        int stop = story[6];

        LlamaWeights w = model.Weights;
        using var stopping = new TransformerModel(new LlamaWeights(w.Config with { StopIds = new([3, stop]) },
            w.TokenEmbedding, w.Layers, w.RmsFinal, w.Classifier, owner: null, w.Source));
        using (var session = stopping.CreateSession())
            Assert.Equal(story[..Array.IndexOf(story, stop)], Generator.Generate(session, [1], greedy).Select(t => t.Id).ToArray());
        using (var session = stopping.CreateSession())   // StopAtEos = false: the stop ids are ignored too
            Assert.Equal(story, Generator.Generate(session, [1], greedy with { StopAtEos = false }).Select(t => t.Id).ToArray());
    }

    [Fact]
    public void Generation_with_a_prompt_continues_the_greedy_story()
    {
        // Greedy from BOS, then again from a prefix of that story: the continuation must agree.
        using var model = Stories();
        using var session = model.CreateSession();
        int[] story = Generator.Generate(session, [1], new GenerationOptions { MaxSteps = 60, Sampling = SamplingOptions.Greedy }).Select(t => t.Id).ToArray();
        int[] prompt = [1, .. story.Take(20)];
        int[] resumed = Generator.Generate(session, prompt, new GenerationOptions { MaxSteps = 60, Sampling = SamplingOptions.Greedy }).Select(t => t.Id).ToArray();
        Assert.Equal(story, resumed);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_rejected()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        int[] prompt = Enumerable.Repeat(300, model.Config.MaxSequenceLength + 1).ToArray();
        var e = Assert.Throws<ArgumentException>(() => Generator.Generate(session, prompt, new GenerationOptions()));
        Assert.Contains("context", e.Message);
        Assert.Throws<ArgumentException>(() => Generator.Generate(session, [], new GenerationOptions()));
    }

    [Fact]
    public void Cancellation_stops_the_stream()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var _ in Generator.Generate(session, [1], new GenerationOptions { MaxSteps = 0 }, cts.Token))
                if (++seen == 5) cts.Cancel();
        });
        Assert.Equal(5, seen);
    }

    [Fact]
    public async Task Async_stream_yields_the_same_tokens()
    {
        using var model = Stories();
        using var session = model.CreateSession();
        var options = new GenerationOptions { MaxSteps = 40, Sampling = new SamplingOptions { Temperature = 1f, Seed = 7 } };
        int[] sync = Generator.Generate(session, [1], options).Select(t => t.Id).ToArray();
        var async = new List<int>();
        await foreach (var t in Generator.GenerateAsync(session, [1], options))
            async.Add(t.Id);
        Assert.Equal(sync, async);
    }

    [Fact]
    public void New_tokens_are_counted_apart_from_the_prompt_and_agree_with_run_c_steps()
    {
        using var model = Stories();
        foreach (int[] prompt in new[] { new[] { 1 }, new[] { 1, 403, 407, 261, 378, 429 } })
        {
            using var a = model.CreateSession();
            using var b = model.CreateSession();
            var byNew = Generator.Generate(a, prompt, new GenerationOptions { MaxSteps = 0, MaxNewTokens = 12, Sampling = SamplingOptions.Greedy }).ToList();
            var bySteps = Generator.Generate(b, prompt, new GenerationOptions { MaxSteps = prompt.Length + 11, Sampling = SamplingOptions.Greedy }).ToList();
            Assert.Equal(12, byNew.Count(t => !t.IsPrompt));
            Assert.Equal(bySteps, byNew);   // MaxSteps = prompt + n - 1 is run.c's way of asking for n new tokens
        }
    }
}
