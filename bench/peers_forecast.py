"""Peer forecasts for bench_forecast.py, run in a separate environment (statsforecast, Prophet).

Usage: PEER_PYTHON peers_forecast.py IN.csv OUT.json SLOTS_PER_DAY TRAIN_WEEKS COUNTRY
IN.csv has ``ds`` (local time, no zone), ``y`` and ``origin`` (1 on the first slot of each
forecast week). Each origin is refitted on the ``TRAIN_WEEKS`` weeks before it and forecasts
the next 7 days; OUT.json maps model -> origin -> list of forecasts (or an error).
Models: statsforecast MSTL (daily and weekly seasons, AutoETS on the remainder) and Prophet
(daily and weekly seasonality, the country's holidays). Negative forecasts become 0.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd


def main() -> None:
    src, out, slots, weeks, country = sys.argv[1:6]
    slots, weeks = int(slots), int(weeks)
    df = pd.read_csv(src, parse_dates=["ds"])
    origins = df.index[df["origin"] == 1].tolist()
    h = 7 * slots
    result = {"mstl": {}, "prophet": {}, "seconds": {}}
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import MSTL, AutoETS

        t = time.perf_counter()
        for o in origins:
            train = df.iloc[max(0, o - weeks * 7 * slots) : o]
            sf = StatsForecast(
                models=[
                    MSTL(
                        season_length=[slots, 7 * slots],
                        trend_forecaster=AutoETS(model="ZZN"),
                    )
                ],
                freq=f"{1440 // slots}min",
            )
            fc = sf.forecast(df=train.assign(unique_id="q")[["unique_id", "ds", "y"]], h=h)
            result["mstl"][str(df["ds"][o])] = [max(0.0, float(v)) for v in fc["MSTL"]]
        result["seconds"]["mstl"] = time.perf_counter() - t
    except Exception as exc:
        result["mstl"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        import logging

        from prophet import Prophet

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        t = time.perf_counter()
        for o in origins:
            train = df.iloc[max(0, o - weeks * 7 * slots) : o][["ds", "y"]]
            m = Prophet(daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=False)
            if country:
                m.add_country_holidays(country_name=country)
            m.fit(train)
            future = df.iloc[o : o + h][["ds"]]
            fc = m.predict(future)
            result["prophet"][str(df["ds"][o])] = [max(0.0, float(v)) for v in fc["yhat"]]
        result["seconds"]["prophet"] = time.perf_counter() - t
    except Exception as exc:
        result["prophet"] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
