using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.ManagedEngine.Tests.Sampling;

/// <summary>
/// <see cref="Sampler.ArgMax"/>'s vector and scalar passes against the plain loop written here: the first index of the
/// largest value, NaN never winning unless first. Both passes are checked, whichever the dispatch picks.
/// </summary>
public class ArgMaxTests
{
    private static int Naive(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }

    private static IEnumerable<Func<float[], int>> Passes()
    {
        yield return x => Sampler.ArgMaxScalar(x, 1, 0, x[0]);
        yield return x => Sampler.ArgMax(x);
        yield return x => Sampler.ArgMaxVector(x);   // in software where the vectors are not accelerated
    }

    public static TheoryData<string> Cases => new() { "random", "ties", "nan", "nan-first", "zeros", "increasing", "decreasing", "infinities" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_pass_gives_the_first_index_of_the_largest_value(string kind)
    {
        var random = new Random(kind.GetHashCode(StringComparison.Ordinal) & 0xffff);
        foreach (int length in Enumerable.Range(1, 70).Append(128_256).Append(32_000).Append(32_001))
        {
            float[] x = Make(kind, length, random);
            int expected = Naive(x);
            foreach (var pass in Passes())
                Assert.True(pass(x) == expected, $"{kind}, length {length}: {pass(x)} instead of {expected}");
        }
    }

    private static float[] Make(string kind, int length, Random random)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(random.NextDouble() * 20 - 10);
        switch (kind)
        {
            case "ties":
                // A few distinct values: the maximum repeats, in and across vectors.
                for (int i = 0; i < length; i++) x[i] = random.Next(4);
                break;
            case "nan":
                for (int i = 0; i < length; i += 1 + random.Next(5)) x[i] = float.NaN;
                if (length > 1) x[0] = -5;
                break;
            case "nan-first":
                x[0] = float.NaN;
                break;
            case "zeros":
                // −0 and +0 compare equal: the first of them wins.
                for (int i = 0; i < length; i++) x[i] = random.Next(2) == 0 ? -0f : 0f;
                break;
            case "increasing":
                for (int i = 0; i < length; i++) x[i] = i;   // every vector beats the maximum so far
                break;
            case "decreasing":
                for (int i = 0; i < length; i++) x[i] = -i;
                break;
            case "infinities":
                for (int i = 0; i < length; i++) x[i] = random.Next(3) switch { 0 => float.NegativeInfinity, 1 => float.PositiveInfinity, _ => x[i] };
                break;
        }
        return x;
    }
}
