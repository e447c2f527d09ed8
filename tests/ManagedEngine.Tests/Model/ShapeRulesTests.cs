using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Tests.Model;

/// <summary>One rule set for shapes: a configuration built in code is held to the rules the file readers apply.</summary>
public class ShapeRulesTests
{
    private static readonly ModelConfig Valid = new()
    {
        Dim = 64, HiddenDim = 172, LayerCount = 5, HeadCount = 8, KvHeadCount = 4, VocabSize = 512, MaxSequenceLength = 512,
    };

    [Fact]
    public void A_valid_configuration_passes() => Assert.Null(ShapeRules.Validate(Valid));

    [Theory]
    [InlineData(64, 7, 7, "HeadCount = 7 does not divide Dim = 64")]
    [InlineData(64, 8, 3, "KvHeadCount = 3 does not divide HeadCount = 8")]
    [InlineData(48, 16, 16, "odd head size 3")]
    [InlineData(64, 128, 128, "HeadCount = 128 exceeds Dim = 64")]
    public void Each_broken_rule_is_named_in_the_configuration_s_own_terms(int dim, int heads, int kvHeads, string expected) =>
        Assert.Contains(expected, ShapeRules.Validate(Valid with { Dim = dim, HeadCount = heads, KvHeadCount = kvHeads }));

    [Fact]
    public void Limits_are_the_engine_s_whatever_the_format()
    {
        Assert.Contains($"exceeds the supported maximum {ModelLimits.MaxLayers}", ShapeRules.Validate(Valid with { LayerCount = ModelLimits.MaxLayers + 1 }));
        Assert.Contains("VocabSize = 0 must be positive", ShapeRules.Validate(Valid with { VocabSize = 0 }));
    }
}
