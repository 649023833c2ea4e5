using System.Numerics;

namespace Iwae.Autodiff;

/// <summary>
/// A small, fast, seedable generator (xoshiro256** by Blackman and Vigna) whose whole state is four
/// numbers, so a checkpoint can save and restore it exactly. Same seed, same sequence, on every machine
/// and .NET version (unlike System.Random's unseeded algorithm choice).
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator seeded through SplitMix64, as the xoshiro authors recommend.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>The full state, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException("an Rng state has 4 values", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new ArgumentException("the all-zero Rng state is invalid", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>A new generator whose stream is independent of this one's (seeded from it).</summary>
    public Rng Split() => new(NextULong());

    /// <summary>64 random bits.</summary>
    public ulong NextULong()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1), 24 bits.</summary>
    public float NextFloat() => (NextULong() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        return (int)((NextULong() >> 33) * (ulong)n >> 31);
    }

    /// <summary>A standard normal draw (Box-Muller, both values used in turn is avoided to keep state simple).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble();         // (0, 1]: log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="dst"/> with standard normal draws.</summary>
    public void FillNormal<T>(Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = T.CreateTruncating(NextNormal());
    }

    /// <summary>Fisher-Yates shuffle.</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
