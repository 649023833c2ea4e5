using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>Which instruction-set path a kernel runs on.</summary>
public enum SimdPath
{
    /// <summary>Plain scalar code; always available.</summary>
    Scalar,
    /// <summary>128-bit vectors (AdvSimd on ARM64, SSE on x64).</summary>
    Vector128,
    /// <summary>256-bit vectors (AVX2 on x64).</summary>
    Vector256,
    /// <summary>512-bit vectors (AVX-512 on x64).</summary>
    Vector512,
}

/// <summary>Chooses the kernel path once at start-up; tests force each available path.</summary>
public static class Simd
{
    /// <summary>The widest path this machine accelerates. Set IWAE_SIMD=scalar|128|256|512 to cap it.</summary>
    public static SimdPath Best { get; } = Detect();

    /// <summary>Every path this machine can run, narrowest first.</summary>
    public static IReadOnlyList<SimdPath> Available { get; } = AvailablePaths();

    /// <summary>True if <paramref name="path"/> runs accelerated here.</summary>
    public static bool IsSupported(SimdPath path) => path switch
    {
        SimdPath.Scalar => true,
        SimdPath.Vector128 => Vector128.IsHardwareAccelerated,
        SimdPath.Vector256 => Vector256.IsHardwareAccelerated,
        SimdPath.Vector512 => Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>The path IWAE_SIMD (and `quick gemm path=`) names: scalar, 128, 256 or 512; null for anything else.</summary>
    public static SimdPath? Named(string? name) => name switch
    {
        "scalar" => SimdPath.Scalar,
        "128" => SimdPath.Vector128,
        "256" => SimdPath.Vector256,
        "512" => SimdPath.Vector512,
        _ => null,
    };

    private static SimdPath Detect()
    {
        SimdPath max = Named(Environment.GetEnvironmentVariable("IWAE_SIMD")) ?? SimdPath.Vector512;
        if (max >= SimdPath.Vector512 && Vector512.IsHardwareAccelerated) return SimdPath.Vector512;
        if (max >= SimdPath.Vector256 && Vector256.IsHardwareAccelerated) return SimdPath.Vector256;
        if (max >= SimdPath.Vector128 && Vector128.IsHardwareAccelerated) return SimdPath.Vector128;
        return SimdPath.Scalar;
    }

    private static SimdPath[] AvailablePaths()
    {
        var list = new List<SimdPath>();
        foreach (var p in Enum.GetValues<SimdPath>())
            if (IsSupported(p)) list.Add(p);
        return list.ToArray();
    }
}
