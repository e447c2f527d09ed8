namespace MlPipelines.Fuzz;

/// <summary>
/// Shrinks an input that breaks the contract to a small one that breaks it the same way (same signature: the same
/// exception at the same place, or the same kind of allocation or slowness breach): ranges are
/// removed, from half the input down to single bytes, while the violation persists. The result is what a regression
/// test commits.
/// </summary>
public static class Minimizer
{
    public static byte[] Minimize(FuzzTarget target, SeedFiles seeds, byte[] input, TextWriter? log = null)
    {
        using var scratch = new ScratchDirectory(target.Name + "-min");
        target.Prepare(scratch, seeds);
        string? signature = Violation(target, scratch, input) ?? throw new ArgumentException("The input does not break the contract.", nameof(input));
        log?.WriteLine($"minimising {input.Length} bytes: {signature}");
        byte[] current = input;
        for (int chunk = Math.Max(1, current.Length / 2); chunk >= 1; chunk /= 2)
        {
            for (int start = 0; start < current.Length;)
            {
                int n = Math.Min(chunk, current.Length - start);
                byte[] candidate = [.. current.AsSpan(0, start), .. current.AsSpan(start + n)];
                if (Violation(target, scratch, candidate) == signature)
                    current = candidate;
                else
                    start += n;
            }
        }
        log?.WriteLine($"minimised to {current.Length} bytes");
        return current;
    }

    /// <summary>The signature of the first way <paramref name="input"/> breaks the contract (exception, allocation or slowness), or null.</summary>
    public static string? Violation(FuzzTarget target, ScratchDirectory scratch, byte[] input)
    {
        InputOutcome outcome = InputCheck.Run(target, input, scratch, TimeSpan.FromSeconds(1));
        return outcome.Breaches.Count == 0 ? null : outcome.Breaches[0].Signature;
    }
}
