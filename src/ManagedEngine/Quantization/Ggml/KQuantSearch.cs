using static MlPipelines.ManagedEngine.Quantization.Ggml.GgmlScalars;

namespace MlPipelines.ManagedEngine.Quantization.Ggml;

/// <summary>
/// The small searches the k-quant reference quantisers run on each sub-block to choose its scale (and
/// minimum) before those are themselves quantised. They are heuristics, so to give ggml's bytes they must be
/// followed literally: every sum is an fp32 running sum in index order, every product is evaluated left to
/// right in fp32 (<c>w · l · l</c> is <c>(w · l) · l</c>), comparisons are strict where ggml's are, and
/// rounding goes through <see cref="GgmlScalars.NearestInt"/>.
/// </summary>
internal static class KQuantSearch
{
    /// <summary>Sub-blocks whose largest magnitude is below this are treated as all zero.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>
    /// Fits <c>x ≈ scale · L − min</c> with codes <c>L</c> in 0…<paramref name="nmax"/> and <c>min ≥ 0</c>,
    /// minimising the weighted squared (or, with <paramref name="useMad"/>, absolute) error (ggml's
    /// <c>make_qkx2_quants</c>). Returns the scale, writes the codes to <paramref name="codes"/> and the
    /// (non-negative) minimum to <paramref name="min"/>.
    /// </summary>
    /// <remarks>
    /// The initial fit spreads [min(x, 0), max(x)] over the codes. Then, for <c>k = 0 … steps</c>, the codes are
    /// recomputed with the inverse scale <c>(nmax + rmin + rdelta·k) / range</c>, and the scale and offset are
    /// re-fitted to those codes by weighted least squares (clamping a positive offset to 0); a candidate
    /// replaces the best so far only if its error is strictly smaller.
    /// </remarks>
    public static float FitScaleAndMin(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, int nmax, Span<byte> codes,
        out float min, float rmin, float rdelta, int steps, bool useMad)
    {
        int n = x.Length;
        float lo = x[0], hi = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
            sumW += weights[i];
            sumX += weights[i] * x[i];
        }
        if (lo > 0) lo = 0;
        if (hi == lo)
        {
            codes[..n].Clear();
            min = -lo;
            return 0f;
        }

        float iscale = nmax / (hi - lo);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * (x[i] - lo)), 0, nmax);
            codes[i] = (byte)l;
            bestError += weights[i] * Error(scale * l + lo - x[i], useMad);
        }
        if (steps < 1)
        {
            min = -lo;
            return scale;
        }

        Span<byte> trial = stackalloc byte[n];
        for (int k = 0; k <= steps; k++)
        {
            iscale = (rmin + rdelta * k + nmax) / (hi - lo);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * (x[i] - lo)), 0, nmax);
                trial[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                // Weighted least squares for x ≈ scale · l + offset.
                float trialScale = (sumW * sumXL - sumX * sumL) / det;
                float trialMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (trialMin > 0)
                {
                    trialMin = 0;
                    trialScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                    error += weights[i] * Error(trialScale * trial[i] + trialMin - x[i], useMad);
                if (error < bestError)
                {
                    trial.CopyTo(codes);
                    bestError = error;
                    scale = trialScale;
                    lo = trialMin;
                }
            }
        }
        min = -lo;
        return scale;
    }

    private static float Error(float diff, bool useMad) => useMad ? MathF.Abs(diff) : diff * diff;

    /// <summary>
    /// Fits <c>x ≈ scale · (L − nmax)</c> with codes <c>L</c> in 0…2·<paramref name="nmax"/> − 1, weighting each
    /// value by <c>x²</c> (ggml's <c>make_qx_quants</c> with <c>rmse_type = 1</c> and no importance weights).
    /// Returns the scale (which may be negative) and writes the codes.
    /// </summary>
    /// <remarks>
    /// The first fit maps the largest-magnitude value to code 0 (<c>−nmax</c>); its codes give a
    /// least-squares scale <c>Σw·x·l / Σw·l²</c>. Then 18 more inverse scales <c>−(nmax + 0.1·k) / max</c>,
    /// <c>k = ±1 … ±9</c>, are tried; one whose least-squares fit explains more (<c>(Σwxl)² / Σwl²</c> strictly
    /// larger) replaces the codes and scale. An all-zero sub-block gets code 0 everywhere (not
    /// <paramref name="nmax"/>) and scale 0.
    /// </remarks>
    public static float FitSymmetric(ReadOnlySpan<float> x, int nmax, Span<sbyte> codes)
    {
        int n = x.Length;
        float max = SignedAbsMax(x, out float absMax);
        if (absMax < GroupMaxEps)
        {
            codes[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            codes[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int k = -9; k <= 9; k++)
        {
            if (k == 0) continue;
            iscale = -(nmax + 0.1f * k) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                    codes[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /// <summary>
    /// Fits <c>x ≈ scale · (L − nmax)</c> with codes <c>L</c> in 0…2·<paramref name="nmax"/> − 1 (ggml's
    /// <c>make_q3_quants</c> with its refinement on), weighting each value by <c>x²</c>. Returns the scale and
    /// writes the codes.
    /// </summary>
    /// <remarks>
    /// Starts from the codes of inverse scale <c>−nmax / max</c>, then makes up to five passes in which each
    /// value in turn is moved to the code its own least-squares optimum suggests, keeping a move only if it
    /// strictly raises <c>(Σwxl)² / Σwl²</c>; it stops after a pass that changed nothing. The scale returned is
    /// the final <c>Σwxl / Σwl²</c>.
    /// </remarks>
    public static float FitSymmetricRefined(ReadOnlySpan<float> x, int nmax, Span<sbyte> codes)
    {
        int n = x.Length;
        float max = SignedAbsMax(x, out float absMax);
        if (absMax < GroupMaxEps)
        {
            codes[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            codes[i] = (sbyte)l;
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        for (int pass = 0; pass < 5; pass++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumLX - w * x[i] * codes[i];
                if (slx > 0)
                {
                    float sl2 = sumL2 - w * codes[i] * codes[i];
                    int l = Math.Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                    if (l != codes[i])
                    {
                        slx += w * x[i] * l;
                        sl2 += w * l * l;
                        if (sl2 > 0 && slx * slx * sumL2 > sumLX * sumLX * sl2)
                        {
                            codes[i] = (sbyte)l;
                            sumLX = slx;
                            sumL2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++)
            codes[i] += (sbyte)nmax;
        return sumLX / sumL2;
    }
}
