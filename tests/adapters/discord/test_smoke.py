from tests.fakes.discord_api import embeds_text


async def test_today_in_an_unscheduled_channel_gives_a_practice_question(world):
    ref = await world.fake.slash("today")
    body = await world.fake.first_reply(ref)
    assert "Practice question" in embeds_text(body)
    assert body["allowed_mentions"] == {"parse": []}
