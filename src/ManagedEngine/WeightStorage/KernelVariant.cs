namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// Which instructions a block kernel may use, as a generic argument: the JIT compiles one branch-free loop per variant
/// (a runtime flag left both variants' code in the loop, and the register allocator then kept the accumulators on the
/// stack).
/// </summary>
internal interface IKernelVariant
{
    /// <summary>x86 integer multiply-adds (AVX2, AVX-VNNI) rather than the portable widening products.</summary>
    static abstract bool Native { get; }
}

/// <summary>x86 AVX2 / AVX-VNNI instructions.</summary>
internal readonly struct NativeVariant : IKernelVariant
{
    public static bool Native => true;
}

/// <summary>The portable <c>Vector256</c> API only.</summary>
internal readonly struct PortableVariant : IKernelVariant
{
    public static bool Native => false;
}
