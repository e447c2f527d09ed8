using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Tests.Sampling;

public class SamplerTests
{
    /// <summary>
    /// The run.c sampling procedure written plainly (double-free LINQ, full stable sort), as the
    /// reference for the engine's buffer-reusing sampler. Top-k, which run.c lacks, is "keep the k
    /// most probable, then top-p on the renormalised rest".
    /// </summary>
    private static int NaiveSample(float[] logits, float temperature, float topP, int topK, ref ulong state)
    {
        if (temperature == 0f)
            return Array.IndexOf(logits, logits.Max());
        float[] p = logits.Select(l => l / temperature).ToArray();
        float max = p.Max();
        float sum = 0f;
        for (int i = 0; i < p.Length; i++) { p[i] = MathF.Exp(p[i] - max); sum += p[i]; }
        for (int i = 0; i < p.Length; i++) p[i] /= sum;

        state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
        float coin = ((uint)((state * 0x2545F4914F6CDD1DUL) >> 32) >> 8) / 16777216.0f;

        bool nucleus = topP > 0f && topP < 1f;
        if (topK > 0 && topK < p.Length)
        {
            var kept = p.Select((prob, index) => (prob, index)).OrderByDescending(c => c.prob).Take(topK).ToList();
            float mass = 0f;
            foreach (var c in kept) mass += c.prob;
            return Nucleus(kept, (nucleus ? topP : 1f) * mass, coin);
        }
        if (!nucleus)
        {
            float cdf = 0f;
            for (int i = 0; i < p.Length; i++) { cdf += p[i]; if (coin < cdf) return i; }
            return p.Length - 1;
        }
        float cutoff = (1.0f - topP) / (p.Length - 1);
        var candidates = p.Select((prob, index) => (prob, index)).Where(c => c.prob >= cutoff).OrderByDescending(c => c.prob).ToList();
        return Nucleus(candidates, topP, coin);
    }

    private static int Nucleus(List<(float prob, int index)> sorted, float threshold, float coin)
    {
        float cumulative = 0f;
        int last = sorted.Count - 1;
        for (int i = 0; i < sorted.Count; i++)
        {
            cumulative += sorted[i].prob;
            if (cumulative > threshold) { last = i; break; }
        }
        float r = coin * cumulative, cdf = 0f;
        for (int i = 0; i <= last; i++) { cdf += sorted[i].prob; if (r < cdf) return sorted[i].index; }
        return sorted[last].index;
    }

    private static float[] RandomLogits(Random rng, int n, bool withTies)
    {
        var logits = new float[n];
        for (int i = 0; i < n; i++)
            logits[i] = withTies ? rng.Next(6) : (float)(rng.NextDouble() * 8 - 4);
        return logits;
    }

    [Theory]
    [InlineData(1.0f, 0.9f, 0, false)]
    [InlineData(0.8f, 0.5f, 0, false)]
    [InlineData(1.0f, 1.0f, 0, false)]     // top-p off: plain multinomial
    [InlineData(1.5f, 0.0f, 0, false)]     // top-p 0 also means off (run.c)
    [InlineData(1.0f, 0.9f, 0, true)]      // many equal probabilities: index order decides
    [InlineData(1.0f, 0.9f, 5, false)]
    [InlineData(0.7f, 1.0f, 40, true)]
    [InlineData(1.0f, 0.3f, 1, false)]
    public void Sampler_matches_the_reference_procedure(float temperature, float topP, int topK, bool withTies)
    {
        var rng = new Random(42);
        foreach (int vocab in new[] { 2, 7, 512, 4000 })
        {
            ulong seed = (ulong)rng.Next(1, int.MaxValue);
            var sampler = new Sampler(vocab, new SamplingOptions { Temperature = temperature, TopP = topP, TopK = topK, Seed = seed });
            ulong state = seed;
            for (int step = 0; step < 200; step++)
            {
                float[] logits = RandomLogits(rng, vocab, withTies);
                int expected = NaiveSample((float[])logits.Clone(), temperature, topP, topK, ref state);
                Assert.Equal(expected, sampler.Sample(logits));
            }
        }
    }

    [Fact]
    public void Greedy_takes_the_first_maximum_and_draws_no_coin()
    {
        var sampler = new Sampler(5, SamplingOptions.Greedy);
        Assert.Equal(1, sampler.Sample(new float[] { 0f, 3f, -1f, 3f, 2f }));
        Assert.Equal(4, sampler.Sample(new float[] { 0f, 0f, 0f, 0f, 9f }));
    }

    [Fact]
    public void Top_k_never_picks_outside_the_k_most_likely()
    {
        var rng = new Random(5);
        var sampler = new Sampler(100, new SamplingOptions { Temperature = 5f, TopP = 1f, TopK = 3, Seed = 99 });
        for (int i = 0; i < 500; i++)
        {
            float[] logits = RandomLogits(rng, 100, withTies: false);
            var top3 = logits.Select((l, idx) => (l, idx)).OrderByDescending(c => c.l).Take(3).Select(c => c.idx).ToHashSet();
            Assert.Contains(sampler.Sample(logits), top3);
        }
    }

    [Fact]
    public void Top_p_keeps_to_the_nucleus()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05: with top-p 0.7 the nucleus is {0, 1}.
        float[] probs = [0.5f, 0.3f, 0.15f, 0.05f];
        var sampler = new Sampler(4, new SamplingOptions { Temperature = 1f, TopP = 0.7f, Seed = 7 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
            seen.Add(sampler.Sample(probs.Select(p => MathF.Log(p)).ToArray()));
        Assert.Equal(new HashSet<int> { 0, 1 }, seen);
    }

    [Fact]
    public void Same_seed_gives_the_same_choices()
    {
        var rng = new Random(1);
        float[][] steps = Enumerable.Range(0, 50).Select(_ => RandomLogits(rng, 300, false)).ToArray();
        int[] Run() { var s = new Sampler(300, new SamplingOptions { Temperature = 1f, Seed = 1234 }); return steps.Select(l => s.Sample((float[])l.Clone())).ToArray(); }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Xorshift_matches_llama2c_first_outputs()
    {
        // The generator's definition from run.c, computed by hand for seed 1:
        // state = 1 → 1 ^ (1 << 25) = 0x2000001 → ^ (0x2000001 >> 27 = 0) = 0x2000001
        ulong state = 0x2000001UL;
        uint expected = (uint)((state * 0x2545F4914F6CDD1DUL) >> 32);
        var rng = new XorShiftRandom(1);
        Assert.Equal(expected, rng.NextUInt32());
        Assert.Throws<ArgumentOutOfRangeException>(() => new XorShiftRandom(0));
    }

    [Theory]
    [InlineData(-0.1f, 0.9f, 0)]
    [InlineData(float.NaN, 0.9f, 0)]
    [InlineData(1f, -0.5f, 0)]
    [InlineData(1f, 0.9f, -1)]
    public void Invalid_options_are_rejected(float temperature, float topP, int topK)
    {
        var options = new SamplingOptions { Temperature = temperature, TopP = topP, TopK = topK };
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(10, options));
    }

    [Fact]
    public void Wrong_logit_count_is_rejected()
    {
        var sampler = new Sampler(10, SamplingOptions.Greedy);
        Assert.Throws<ArgumentException>(() => sampler.Sample(new float[9]));
    }

    /// <summary>
    /// Corrupt weights (a NaN in a llama2.c file, found by fuzzing `mlpipe generate`) give NaN logits: every sampler
    /// still returns a token id in range instead of indexing an empty nucleus.
    /// </summary>
    [Theory]
    [InlineData(0.8f, 0.9f, 0)]
    [InlineData(0.8f, 1f, 0)]
    [InlineData(0.8f, 0.9f, 3)]
    [InlineData(0f, 0.9f, 0)]
    public void Non_finite_logits_still_give_a_token_in_range(float temperature, float topP, int topK)
    {
        var sampler = new Sampler(8, new SamplingOptions { Temperature = temperature, TopP = topP, TopK = topK, Seed = 1 });
        for (int i = 0; i < 20; i++)
        {
            float[] logits = [float.NaN, 1, float.NaN, 2, float.PositiveInfinity, 0, float.NaN, 1];
            if (i % 2 == 0) Array.Fill(logits, float.NaN);
            Assert.InRange(sampler.Sample(logits), 0, 7);
        }
    }
}
