namespace MlPipelines.ManagedEngine.Parity;

/// <summary>How two models' logits differ over a set of positions.</summary>
/// <param name="Positions">Positions compared (each contributes one vocabulary-wide row of logits).</param>
/// <param name="MaxAbsDiff">Largest |a − b| over every logit compared; infinite when either side produced NaN.</param>
/// <param name="MeanAbsDiff">Mean |a − b| over every logit compared (0 when nothing was compared).</param>
/// <param name="Top1Matches">Positions where both models' argmax is the same token.</param>
public sealed record LogitStats(int Positions, double MaxAbsDiff, double MeanAbsDiff, int Top1Matches)
{
    /// <summary>Fraction of positions whose argmax agrees (1 when nothing was compared).</summary>
    public double Top1Agreement => Positions == 0 ? 1.0 : (double)Top1Matches / Positions;

    /// <summary>No positions.</summary>
    public static LogitStats Empty { get; } = new(0, 0, 0, 0);
}
